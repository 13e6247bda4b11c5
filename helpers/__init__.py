"""The `helpers` package: the reusable code behind the PyTorch NLP course notebooks."""

__version__ = "0.1.0"
