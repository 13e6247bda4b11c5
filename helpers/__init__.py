"""The `helpers` package: the reusable code behind the PyTorch NLP course notebooks."""

import warnings

# Without ipywidgets, tqdm.auto falls back to text bars and warns with a local path;
# text bars are what we want.
warnings.filterwarnings("ignore", message="IProgress not found")

__version__ = "0.1.0"
