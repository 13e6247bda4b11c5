"""The course's 15 review questions: show one, check an answer, explain why."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    """One multiple-choice question with its answer letter and the course's explanation."""

    text: str
    options: tuple[str, str, str, str]
    answer: str
    why: str
    chapter: str


QUESTIONS: dict[int, Question] = {
    1: Question(
        "What is the primary advantage of using subword tokenization over word-level tokenization?",
        ("It reduces the vocabulary size significantly", "It handles out-of-vocabulary words more effectively",
         "It preserves the original word order better", "It requires less computational resources"),
        "B",
        "A word it has never seen is still spelled with pieces it knows (un ##believ ##able), so nothing becomes "
        "<unk>. Smaller vocabularies are a side effect, word order is kept by every tokenizer, and subwords make "
        "sequences longer, not cheaper.",
        "01_tokenization",
    ),
    2: Question(
        "In a standard LSTM, what is the purpose of the cell state (C_t)?",
        ("To serve as the output of the LSTM at each time step", "To carry long-term information through the network",
         "To determine which information to forget from the previous state",
         "To normalize the input data before processing"),
        "B",
        "C_t is the long-term path: it is updated only by element-wise forgetting and adding, so information and "
        "gradients travel across many steps. The output is h_t, and forgetting is the forget gate's job.",
        "03_rnn_lstm_gru",
    ),
    3: Question(
        "What problem does the attention mechanism primarily solve in sequence-to-sequence models?",
        ("The vanishing gradient problem", "The limitation of fixed-length context vectors for long sequences",
         "The high computational cost of training RNNs", "The difficulty of handling variable-length input sequences"),
        "B",
        "Without attention the whole source sentence must squeeze through one fixed-size vector; attention lets the "
        "decoder look back at every encoder state, so long inputs no longer lose information.",
        "04_seq2seq_attention",
    ),
    4: Question(
        "In the Transformer architecture, what is the purpose of positional encoding?",
        ("To normalize the input embeddings", "To provide information about the position of tokens in the sequence",
         "To reduce the dimensionality of the input data", "To create attention masks for the decoder"),
        "B",
        "Self-attention treats its input as a set: shuffle the tokens and each output is shuffled the same way. "
        "Adding a position signal is what lets the model tell 'dog bites man' from 'man bites dog'.",
        "05_transformer",
    ),
    5: Question(
        "Which of the following is NOT a component of the Transformer's encoder layer?",
        ("Multi-head self-attention", "Position-wise feed-forward network", "Masked multi-head attention",
         "Residual connections and layer normalization"),
        "C",
        "The causal (masked) self-attention belongs to the decoder, which must not see future tokens; the encoder "
        "sees the whole input at once.",
        "05_transformer",
    ),
    6: Question(
        "When fine-tuning BERT for a text classification task, which token's representation is typically used for "
        "classification?",
        ("The [SEP] token", "The last token of the sequence", "The [CLS] token",
         "The average of all token representations"),
        "C",
        "BERT prepends [CLS] to every input and was pre-trained to summarize the pair into it; the classification "
        "head reads its final hidden state (mean pooling is a common alternative, not the standard).",
        "06_pretrained_bert",
    ),
    7: Question(
        "What is the main difference between GRU and LSTM?",
        ("GRU has more gates than LSTM", "GRU combines the cell state and hidden state into a single state",
         "LSTM does not use gating mechanisms", "GRU cannot handle long-term dependencies"),
        "B",
        "A GRU keeps one state h_t and two gates (update and reset); its update gate does the work of the LSTM's "
        "forget and input gates together. Fewer gates, fewer parameters, similar long-range memory.",
        "03_rnn_lstm_gru",
    ),
    8: Question(
        "In the context of NLP, what does \"teacher forcing\" refer to?",
        ("Using the model's own predictions as input during training",
         "Using the ground truth output as input during training",
         "Training the model with human-annotated data only", "Forcing the model to use specific attention weights"),
        "B",
        "During training the decoder is fed the true previous token rather than its own guess, so one early "
        "mistake does not derail the rest of the sequence; at inference it must use its own predictions.",
        "04_seq2seq_attention",
    ),
    9: Question(
        "Which technique would most directly address the problem of exploding gradients in RNN training?",
        ("Increasing the learning rate", "Using a larger batch size", "Gradient clipping",
         "Adding more layers to the network"),
        "C",
        "Clipping rescales the gradient whenever its norm passes a threshold, so one huge step cannot throw the "
        "weights away. A larger learning rate or more layers make explosions worse; batch size does not bound them.",
        "03_rnn_lstm_gru",
    ),
    10: Question(
        "What is the key innovation of the Transformer architecture compared to previous sequence models?",
        ("The use of convolutional layers for text processing", "Replacing recurrence with self-attention mechanisms",
         "Implementing a novel word embedding technique", "Using reinforcement learning for sequence generation"),
        "B",
        "Every token attends to every other in one step, so a whole sequence is processed in parallel and distant "
        "words are one hop apart instead of many recurrent steps.",
        "05_transformer",
    ),
    11: Question(
        "In BERT, what does the \"MLM\" (Masked Language Modeling) task involve?",
        ("Predicting the next sentence in a pair of sentences", "Predicting randomly masked tokens in the input",
         "Translating text from one language to another", "Classifying the sentiment of a given text"),
        "B",
        "About 15% of the input tokens are hidden and the model predicts them from both sides of the context; "
        "next-sentence prediction was BERT's second, separate pre-training task.",
        "06_pretrained_bert",
    ),
    12: Question(
        "What is the primary purpose of layer normalization in deep neural networks?",
        ("To reduce the number of parameters in the model", "To make the training process more stable and faster",
         "To prevent overfitting by adding noise to the inputs", "To increase the representational capacity of the network"),
        "B",
        "Normalizing each token's activations to zero mean and unit variance keeps their scale steady from layer to "
        "layer, so deep stacks train with larger learning rates and fewer divergences.",
        "05_transformer",
    ),
    13: Question(
        "Which of the following best describes \"beam search\" in sequence generation?",
        ("A greedy approach that selects the highest probability token at each step",
         "A technique that keeps multiple hypotheses during decoding",
         "A method for training sequence models with reinforcement learning",
         "An algorithm for optimizing the learning rate during training"),
        "B",
        "Beam search keeps the k best partial sequences at each step instead of committing to one, trading compute "
        "for a better chance at the most probable whole sequence; k = 1 is greedy decoding.",
        "04_seq2seq_attention",
    ),
    14: Question(
        "What is the main advantage of using pre-trained language models like BERT for downstream NLP tasks?",
        ("They require less data for fine-tuning compared to training from scratch",
         "They eliminate the need for task-specific architectures",
         "They guarantee state-of-the-art performance on all NLP tasks",
         "They are faster to train than traditional RNNs"),
        "A",
        "Pre-training already taught the model language from unlabeled text, so a few thousand labeled examples "
        "reach what would need far more from scratch. A task head is still needed, nothing is guaranteed, and a "
        "Transformer is slower per step than a small RNN.",
        "06_pretrained_bert",
    ),
    15: Question(
        "In the context of attention mechanisms, what does \"self-attention\" refer to?",
        ("Attention between the encoder and decoder in a seq2seq model",
         "Attention where the queries, keys, and values all come from the same source",
         "Attention that focuses on the most important words in a sentence",
         "A specialized attention mechanism for handling long sequences"),
        "B",
        "In self-attention one sequence attends to itself: Q, K and V are three projections of the same tokens. "
        "Encoder-decoder (cross) attention takes its queries from the decoder and keys and values from the encoder.",
        "05_transformer",
    ),
}
# The course's own questions, beside the outline's 15: keyed "NN.k" (chapter NN, k-th question), e.g. "03.1".
# Each chapter adds its block here, in chapter order; options are ordered as the learner should see them.
COURSE_QUESTIONS: dict[str, Question] = {
    # 00 · Getting started
    "00.1": Question(
        "The baseline's C is chosen on a validation split carved from the training set. Why not choose it on "
        "the test set, which is larger?",
        ("The test set's labels are noisier than the training set's",
         "Choosing on the test set would leave no reviews to train on",
         "A score used to choose C overestimates accuracy on reviews never seen",
         "Scikit-learn can score the test set only once"),
        "C",
        "Whatever you choose by looking at a set has been fitted to that set's quirks, so its score there flatters "
        "you. The test set must be scored once, at the end. IMDB's labels are equally clean in both splits, "
        "training uses the training split whichever set chooses C, and scikit-learn scores as often as you ask.",
        "00_getting_started",
    ),
    "00.2": Question(
        "A notebook run in the smoke profile prints a test accuracy of 70%. What does that tell you?",
        ("The model is worse than the TF-IDF baseline, which scores more",
         "The model overfits and needs more regularization",
         "The model would score about 70% on full IMDB as well",
         "Very little: the smoke profile only checks that the code runs"),
        "D",
        "Smoke trains on a few hundred reviews for one epoch so that CI runs every notebook in about 90 seconds; "
        "its numbers move by many points from seed to seed and say nothing about the full-data result, so they "
        "support no comparison with the baseline, no diagnosis of overfitting and no forecast for full IMDB.",
        "00_getting_started",
    ),
    "00.3": Question(
        "Why does the course fit TF-IDF with logistic regression before any neural network?",
        ("It sets the score a neural model must beat to be worth its cost",
         "Neural models take TF-IDF vectors as their input features",
         "It is the model the course deploys in chapter 09",
         "Its weights initialize the neural models' embeddings"),
        "A",
        "A cheap, strong baseline tells you whether a slower model earns its keep (and a sensible score shows the "
        "data and labels load correctly). The neural models read token ids, not TF-IDF vectors, start from their "
        "own random or pre-trained weights, and chapter 09 deploys a fine-tuned Transformer.",
        "00_getting_started",
    ),
    "00.4": Question(
        "After choosing C on validation, the baseline is kept as fitted on the training split, not refit on "
        "training + validation. Why?",
        ("Refitting on more reviews would change which C is best",
         "So it learns from the same reviews as the neural models it is compared with",
         "Scikit-learn's logistic regression cannot be fitted a second time",
         "The validation reviews are of lower quality than the training reviews"),
        "B",
        "The neural models train on the training split only (validation picks their epoch), so a baseline refit "
        "on 10% more reviews would carry an advantage they never get. C is already chosen when one refits, any "
        "estimator can be refitted, and the validation reviews are a random tenth of the same split.",
        "00_getting_started",
    ),
    # 01 · tokenization
    "01.1": Question(
        "Why does a byte-level BPE tokenizer (GPT-2's) never need an <unk> token?",
        ("Its vocabulary holds every word of its training corpus",
         "Every text is a sequence of UTF-8 bytes, and all 256 bytes are tokens",
         "It replaces an unknown word by the most similar word it knows",
         "It lowercases and strips accents before encoding"),
        "B",
        "Merges only ever join tokens, and the 256 byte values are always in the vocabulary, so any "
        "string, emoji and all, can be spelled. No vocabulary holds every word (new ones keep coming), BPE "
        "has no notion of similar words, and byte-level BPE keeps case and accents: that is why it decodes "
        "losslessly.",
        "01_tokenization",
    ),
    "01.2": Question(
        "WordPiece training merges the pair with the highest count(ab) / (count(a) count(b)). Compared "
        "with BPE's most frequent pair, which pairs does this score favour?",
        ("Pairs whose parts seldom occur apart from each other", "The longest pairs",
         "Pairs of the most frequent tokens", "Pairs at the start of a word"),
        "A",
        "Dividing by the parts' counts rewards pairs that occur together more often than their parts' "
        "frequencies predict: ##g ##s in 'hugs' beats the far more frequent ##u ##g, because ##u is "
        "everywhere. Length and position do not enter the score, and frequent parts are penalized, not "
        "favoured.",
        "01_tokenization",
    ),
    "01.3": Question(
        "How does a Unigram (SentencePiece) tokenizer cut a word into pieces?",
        ("The longest piece in its vocabulary first, then the longest that starts the rest",
         "It replays its learned merges, earliest first",
         "The cut whose pieces' probabilities multiply to the largest value, found by the Viterbi algorithm",
         "Into single characters, which the model then merges by probability"),
        "C",
        "A Unigram model scores every possible cut by the product of its pieces' probabilities and keeps "
        "the best, which dynamic programming (Viterbi) finds without listing them all. Longest match first "
        "is WordPiece's encoder, replaying merges is BPE's, and a Unigram model has no merges at all.",
        "01_tokenization",
    ),
    "01.4": Question(
        "A padded batch from a Hugging Face tokenizer carries an attention_mask. What is it for?",
        ("It marks where each of the two sentences of a pair starts",
         "It tells the model which positions are padding, so that attention ignores them",
         "It hides future tokens, so that a position cannot see what comes after it",
         "It marks the [CLS] and [SEP] tokens"),
        "B",
        "Padding makes the batch rectangular; the mask (1 for real tokens, 0 for padding) keeps the filler "
        "out of attention and pooling. Sentence membership is token_type_ids, hiding the future is a causal "
        "mask that the model builds itself, and special tokens are ordinary positions with mask 1.",
        "01_tokenization",
    ),
    # 02 · Word embeddings
    "02.1": Question(
        "Skip-gram with negative sampling draws its noise words from the unigram distribution raised to the power "
        "3/4. Compared with drawing them by raw frequency, what does the power do?",
        ("It makes every word of the vocabulary equally likely to be drawn",
         "It gives rare words a larger share of the noise and the most frequent words a smaller one",
         "It keeps stop words such as 'the' out of the noise altogether",
         "It turns the loss into a softmax over the whole vocabulary"),
        "B",
        "Raising counts to 3/4 flattens the distribution without making it uniform: 'the' is still drawn most "
        "often, but less than its share of the text, and a word seen five times more than its share. A uniform draw "
        "would be power 0 (A); frequent words are thinned, not removed (C); and the loss stays K + 1 logistic "
        "regressions, which is the point of negative sampling (D).",
        "02_word_embeddings",
    ),
    "02.2": Question(
        "fastText gives the misspelling 'moviee' a vector close to 'movie', while skip-gram has no vector for it "
        "at all. Why?",
        ("fastText's vocabulary is larger, so it contains more misspellings",
         "fastText corrects the spelling of each word before looking it up",
         "A fastText vector is built from the word's hashed character n-grams, most of which 'moviee' shares "
         "with 'movie'",
         "fastText reads each word's letters with a small recurrent network"),
        "C",
        "'moviee' is <mo, mov, ovi, vie, ... : the same n-gram rows as 'movie' except those touching the end, so "
        "the average of its rows lands near 'movie'. Nothing is looked up by spelling correction (B), no word "
        "outside the training vocabulary gets a row of its own however large it is (A), and there is no "
        "recurrent network, only a sum of hashed rows (D).",
        "02_word_embeddings",
    ),
    "02.3": Question(
        "In this chapter's skip-gram vectors, cos(good, bad) is much higher than cos(good, director). Why?",
        ("Training has not converged; more epochs would push antonyms apart",
         "Antonyms fill the same slots ('the acting was ...'), and the objective sees only the contexts of words",
         "Subsampling removed most occurrences of sentiment words, so their vectors stayed random",
         "'good' and 'bad' share character n-grams"),
        "B",
        "Skip-gram learns a vector that predicts a word's neighbours, and good and bad have nearly the same "
        "neighbours. More training makes that clearer, not weaker (A); subsampling only thins very frequent words, "
        "and random vectors would not be close to each other (C); skip-gram does not look at spelling, and 'good' "
        "and 'bad' share no n-gram anyway (D).",
        "02_word_embeddings",
    ),
    # 03 · recurrent networks
    "03.1": Question(
        "A language model is trained with truncated back-propagation through time: the hidden state is carried "
        "from one 35-word window to the next but detached at each window's start. What does the detach do?",
        ("It resets the memory, so each window starts from a zero state",
         "It stops gradients at the window boundary, so each update costs 35 steps, while the state's values "
         "still carry what came before",
         "It prevents overfitting, like dropout", "It is needed only on a GPU, to free memory"),
        "B",
        "detach() keeps the values of (h, c) and drops the graph that made them: the next window still starts "
        "from what the model read before (A is wrong: the state is not zeroed), but back-propagation stops "
        "there, so memory and time per update stay bounded. It is not a regularizer (C), and a CPU would "
        "otherwise back-propagate through the whole stream too (D).",
        "03_rnn_lstm_gru",
    ),
    "03.2": Question(
        "A word-level language model over a 10,000-word vocabulary reaches a perplexity of 150 on held-out "
        "reviews. What does that mean?",
        ("It predicts 150 of every 10,000 words correctly",
         "On average it is as unsure as if it chose uniformly among 150 words",
         "Its cross-entropy loss is 150", "150 words of the held-out text are not in its vocabulary"),
        "B",
        "Perplexity is exp(mean cross-entropy per token): a model that spreads its probability evenly over k "
        "words scores k, so 150 means far better than the 10,000 of a uniform guess. It is not an accuracy (A); "
        "the loss is log(150), about 5.0 nats (C); unknown words are scored like any other token (D).",
        "03_rnn_lstm_gru",
    ),
    "03.3": Question(
        "When sampling text from a language model, what does lowering the temperature from 1.0 to 0.5 do?",
        ("It makes the samples more varied and surprising",
         "It sharpens the next-word distribution: likely words get likelier, samples get safer and more "
         "repetitive",
         "It retrains the output layer with a smaller learning rate", "It lowers the model's perplexity"),
        "B",
        "Sampling draws from softmax(logits / T): dividing by T < 1 widens the gaps between scores, so the top "
        "words take more of the probability (T > 1 would flatten it and give more varied text, A). Nothing is "
        "trained (C), and perplexity is measured with T = 1, on the model's own distribution (D).",
        "03_rnn_lstm_gru",
    ),
    "03.4": Question(
        "A batch of reviews is padded at the end. Why must the backward LSTM of a bidirectional classifier read "
        "each review reversed within its own length (or packed), instead of the whole padded row reversed?",
        ("Reversing the padded row is slower",
         "Otherwise it would start on the padding and reach the real words with a state made of pad steps",
         "nn.LSTM cannot read sequences backwards", "It changes the number of parameters"),
        "B",
        "A reversed padded row starts with the pads: the backward state at the last real word would already "
        "have been updated by them, and a short review would get a different answer alone than in a batch. "
        "Speed is not the issue (A), any LSTM reads what it is given (C), and the weights are the same (D).",
        "03_rnn_lstm_gru",
    ),
    # 04: sequence to sequence with attention
    "04.1": Question(
        "A GRU encoder-decoder without attention translates a 20-word input. While it writes the output, where "
        "is everything it knows about the input?",
        ("In the attention weights over the 20 encoder states",
         "In one fixed-size vector: the encoder's summary of the whole input",
         "In the embeddings of the input words, which the decoder reads again at every step",
         "Nowhere: the decoder regenerates the input from its own outputs"),
        "B",
        "Without attention the decoder starts from (and here also reads at every step) one vector of a few hundred "
        "numbers, the same for a 2-word and a 20-word input: the bottleneck. There are no attention weights (A); "
        "the decoder never sees the input words themselves (C); its own outputs carry no information about the "
        "parts of the input it has not written yet (D).",
        "04_seq2seq_attention",
    ),
    "04.2": Question(
        "Beam search scores a finished output by log P(y) / |y|^alpha. What goes wrong with alpha = 0?",
        ("Nothing: alpha = 0 is the exact most probable output, always the best choice",
         "Every extra token multiplies P(y) by a number below 1, so search drifts towards outputs that end early",
         "The beam can no longer hold more than one hypothesis",
         "Scores become positive, so <eos> is never chosen"),
        "B",
        "log P(y) only falls as tokens are added, so without normalization a short output that stops early can "
        "outscore the right, longer one. alpha = 0 is the most probable output among those the beam kept, not a "
        "guarantee of the best translation (A); the beam width is independent of alpha (C); log-probabilities "
        "stay negative whatever alpha is (D).",
        "04_seq2seq_attention",
    ),
    "04.3": Question(
        "A decoder trained only with teacher forcing does well when fed the true previous tokens but worse when "
        "it must read its own. What is this gap called, and what narrows it?",
        ("Overfitting; more dropout",
         "Exposure bias; feeding the model some of its own predictions during training (scheduled sampling)",
         "Vanishing gradients; gradient clipping", "The bottleneck; a larger hidden state"),
        "B",
        "In training the decoder was only ever exposed to correct prefixes, so at inference one mistake puts it "
        "in states it has never seen. Mixing in its own predictions, with a ratio that decays over training, "
        "shows it such prefixes. It is a train/test mismatch of inputs, not overfitting to the training pairs "
        "(A), not a gradient problem (C), and not about the size of the summary (D).",
        "04_seq2seq_attention",
    ),
    # 05: the Transformer
    "05.1": Question(
        "Why does scaled dot-product attention divide Q K^T by sqrt(d_k)?",
        ("To turn the scores into probabilities",
         "The dot product of two random d_k-dimensional vectors has variance d_k; unscaled, large scores saturate "
         "the softmax and its gradients vanish",
         "To save memory on long sequences", "To stop each position from attending to the future"),
        "B",
        "Scaling brings the scores back to unit variance, so the softmax stays soft at initialization. The "
        "softmax makes the probabilities (A), memory is unchanged (C), and the causal mask, not the scale, hides "
        "the future (D).",
        "05_transformer",
    ),
    "05.2": Question(
        "F.scaled_dot_product_attention on a CPU computes the same result as softmax(Q K^T / sqrt(d)) V written "
        "out. As the sequence length n grows, what does it save?",
        ("Time: it does O(n) work instead of O(n^2)",
         "Memory: it processes keys in blocks and never stores the n x n score matrix, though the work still "
         "grows as n^2",
         "Parameters: it has fewer weights to learn", "Accuracy: it rounds less"),
        "B",
        "Every query still meets every key, so the work grows quadratically (A is wrong); a blockwise softmax "
        "(the idea behind FlashAttention) just never materializes the n x n matrix, so peak memory grows "
        "linearly. Attention has no weights of its own (C), and the result is the same to float precision (D).",
        "05_transformer",
    ),
    "05.3": Question(
        "Post-LN layers compute LN(x + f(x)); pre-LN layers compute x + f(LN(x)). Why do deep pre-LN stacks "
        "train without learning-rate warmup?",
        ("They have more parameters",
         "The residual path from input to output passes through no normalization, so gradients reach early "
         "layers at a steady size from the first step",
         "They do not need residual connections", "LayerNorm is skipped during training"),
        "B",
        "With post-LN every layer's output is normalized on the main path, and at initialization the gradients "
        "near the output are large, so big early steps can derail training unless the learning rate starts "
        "small. Pre-LN keeps an identity path through the whole stack. The parameters are the same (A, apart "
        "from one final LayerNorm), both use residuals (C), and LayerNorm runs in both (D).",
        "05_transformer",
    ),
    # 08 · the sentiment pipeline
    "08.1": Question(
        "Temperature scaling divides a classifier's logits by one number T fitted on validation. What does it change?",
        ("Its accuracy, because borderline reviews switch class", "How confident its probabilities are, not which "
         "class it predicts", "Its ranking of reviews, so ROC-AUC improves", "Nothing: T is always 1 after training"),
        "B",
        "Dividing both logits by the same positive T keeps their order, so the predicted class (and accuracy, and "
        "the ranking behind ROC-AUC) is unchanged; only the softmax gets sharper (T < 1) or softer (T > 1). A "
        "fine-tuned transformer is usually overconfident, so the fitted T is above 1 and the ECE drops.",
        "08_sentiment_pipeline",
    ),
    "08.2": Question(
        "An ensemble averages a transformer's and a TF-IDF model's probabilities with weight w. Where should w be "
        "chosen?",
        ("On the test set, since that is the number we report", "On the training set, where both models are best",
         "On a validation split that neither model was fitted on", "Anywhere: w = 0.5 is always best"),
        "C",
        "Choosing on test makes the test score an optimistic estimate (it has been tuned on); on training data "
        "each model looks better than it is (TF-IDF nearly memorizes it), so w would favour the overfitted one. "
        "A held-out validation split is the honest place, and the best w depends on how good each member is.",
        "08_sentiment_pipeline",
    ),
    "08.3": Question(
        "Batches of 8 with gradient accumulation over 4 batches train like which plain setting?",
        ("Batches of 8 with a learning rate 4 times larger", "Batches of 32, one optimizer step per 4 forward passes",
         "Batches of 2", "Batches of 32, but with 4 times as many optimizer steps"),
        "B",
        "Each batch adds a quarter of its mean-loss gradient, so after 4 batches the gradient is the mean over 32 "
        "reviews and one optimizer step is taken: a batch of 32 in the memory of a batch of 8 (up to BatchNorm, "
        "which transformers do not use). The steps are 4 times fewer, not more, and the learning rate is unchanged.",
        "08_sentiment_pipeline",
    ),
}

LETTERS = "ABCD"
QuestionId = int | str


def _question(number: QuestionId) -> Question:
    """The question with this id: 1 to 15 (the outline's) or "NN.k" (the course's own)."""
    if isinstance(number, bool) or not isinstance(number, (int, str)):
        raise TypeError(f"A question id is a number 1 to 15 or a string like '03.1', got {number!r}.")
    found = QUESTIONS.get(number) if isinstance(number, int) else COURSE_QUESTIONS.get(number)
    if found is None:
        own = ", ".join(COURSE_QUESTIONS) or "none yet"
        raise KeyError(f"There is no question {number!r}: the review questions are 1 to {len(QUESTIONS)}, "
                       f"the chapters' own are {own}.")
    return found


def show(number: QuestionId) -> None:
    """Print a question and its four options."""
    q = _question(number)
    print(f"{number}. {q.text}")
    for letter, option in zip(LETTERS, q.options):
        print(f"   {letter}) {option}")


def check(number: QuestionId, letter: str) -> bool:
    """Print whether `letter` answers question `number`, with the explanation; return True when right."""
    q = _question(number)
    if not isinstance(letter, str):
        raise TypeError(f"Answer with a letter as a string, e.g. quiz.check({number!r}, \"B\"), got {letter!r}.")
    answer = letter.strip().upper()
    if len(answer) != 1 or answer not in LETTERS:
        raise ValueError(f"Answer with exactly one letter, A to D (got {letter!r}).")
    right = answer == q.answer
    verdict = "Correct" if right else f"Not quite: the answer is {q.answer}"
    print(f"{verdict}. {q.why}")
    return right


def for_chapter(chapter: str) -> list[QuestionId]:
    """Ids of the questions that belong to a notebook (e.g. '03_rnn_lstm_gru'): the outline's, then its own."""
    return ([n for n, q in QUESTIONS.items() if q.chapter == chapter]
            + [n for n, q in COURSE_QUESTIONS.items() if q.chapter == chapter])
