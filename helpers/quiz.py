"""The course's 15 review questions: show one, check an answer, explain why (every option, not only the answer)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    """One multiple-choice question with its answer letter and the course's explanation.

    `explanations` says, option by option, why each is right or wrong (all 15 review questions have them; a
    chapter's own question may leave them out, and then `why` covers the wrong options too).
    """

    text: str
    options: tuple[str, str, str, str]
    answer: str
    why: str
    chapter: str
    explanations: tuple[str, ...] = ()

    def __post_init__(self):
        if self.explanations and len(self.explanations) != len(self.options):
            raise ValueError(f"Give one explanation per option ({len(self.options)}), got {len(self.explanations)}.")


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
        explanations=(
            "A side effect at best: the vocabulary's size is a setting (the number of merges), and a word "
            "vocabulary can be capped too. What matters is what happens to a word outside it.",
            "Right: a word never seen in training is spelled with pieces the model knows (un ##believ "
            "##able), so nothing collapses into one <unk> token.",
            "Every tokenizer keeps the text's order: the tokens come out in the order they appear.",
            "The opposite: a word becomes one or more pieces, so sequences get longer and the model does "
            "more work per text.",
        ),
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
        explanations=(
            "The output at each step is the hidden state h_t = o_t * tanh(C_t); C_t stays inside the "
            "cell.",
            "Right: C_t changes only by element-wise forgetting and adding, so information (and its "
            "gradient) can travel across many steps.",
            "That is the forget gate f_t, which acts on C_t; it decides, C_t remembers.",
            "An LSTM does not normalize its input; layer normalization is a separate layer (chapter 05).",
        ),
    ),
    3: Question(
        "What problem does the attention mechanism primarily solve in sequence-to-sequence models?",
        ("The vanishing gradient problem", "The limitation of fixed-length context vectors for long sequences",
         "The high computational cost of training RNNs", "The difficulty of handling variable-length input sequences"),
        "B",
        "Without attention the whole source sentence must squeeze through one fixed-size vector; attention lets the "
        "decoder look back at every encoder state, so long inputs no longer lose information.",
        "04_seq2seq_attention",
        explanations=(
            "Vanishing gradients are what the LSTM's and GRU's gates address (chapter 03); attention "
            "shortens gradient paths as a side effect, but that is not the problem it was introduced for.",
            "Right: without attention the whole source must squeeze through one fixed-size vector; with "
            "it the decoder looks back at every encoder state at every step.",
            "Attention adds work (a score for every source position at every decoder step); it does not "
            "make RNNs cheaper to train.",
            "Encoder-decoder RNNs already read and write sequences of any length (until the "
            "end-of-sequence token); padding and masks do the bookkeeping.",
        ),
    ),
    4: Question(
        "In the Transformer architecture, what is the purpose of positional encoding?",
        ("To normalize the input embeddings", "To provide information about the position of tokens in the sequence",
         "To reduce the dimensionality of the input data", "To create attention masks for the decoder"),
        "B",
        "Self-attention treats its input as a set: shuffle the tokens and each output is shuffled the same way. "
        "Adding a position signal is what lets the model tell 'dog bites man' from 'man bites dog'.",
        "05_transformer",
        explanations=(
            "Normalization is layer normalization's job; the position signal is added to the embeddings, "
            "not used to rescale them.",
            "Right: self-attention sees a set, so without a position signal 'dog bites man' and 'man "
            "bites dog' would look the same to it.",
            "The encoding has the embedding's width and is added to it, so the dimension is unchanged.",
            "Masks come from padding and, in the decoder, from the causal triangle; they do not involve "
            "positions' encodings.",
        ),
    ),
    5: Question(
        "Which of the following is NOT a component of the Transformer's encoder layer?",
        ("Multi-head self-attention", "Position-wise feed-forward network", "Masked multi-head attention",
         "Residual connections and layer normalization"),
        "C",
        "The causal (masked) self-attention belongs to the decoder, which must not see future tokens; the encoder "
        "sees the whole input at once.",
        "05_transformer",
        explanations=(
            "Multi-head self-attention is the encoder layer's first sublayer.",
            "The position-wise feed-forward network is the encoder layer's second sublayer, applied to "
            "each token separately.",
            "Right: the masked (causal) self-attention belongs to the decoder, which must not see the "
            "tokens it is about to predict; the encoder reads its whole input at once (it masks only "
            "padding).",
            "Both sublayers of every encoder layer are wrapped in a residual connection and layer "
            "normalization.",
        ),
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
        explanations=(
            "[SEP] marks the end of a segment; it was not trained to summarize the input.",
            "BERT reads in both directions, so the last position has no special role (it is [SEP] or "
            "padding); left-to-right decoders like GPT are the models that classify from their last "
            "token.",
            "Right: BERT prepends [CLS] to every input and pre-training taught it to summarize the pair "
            "there; the classification head reads its final vector.",
            "Mean pooling is a common alternative, and the one chapter 08 uses with all-MiniLM-L6-v2 (a "
            "sentence encoder trained through the mean), but it is not BERT's standard recipe.",
        ),
    ),
    7: Question(
        "What is the main difference between GRU and LSTM?",
        ("GRU has more gates than LSTM", "GRU combines the cell state and hidden state into a single state",
         "LSTM does not use gating mechanisms", "GRU cannot handle long-term dependencies"),
        "B",
        "A GRU keeps one state h_t and two gates (update and reset); its update gate does the work of the LSTM's "
        "forget and input gates together. Fewer gates, fewer parameters, similar long-range memory.",
        "03_rnn_lstm_gru",
        explanations=(
            "The reverse: a GRU has two gates (update and reset), an LSTM three (input, forget and "
            "output).",
            "Right: a GRU keeps one state h_t; its update gate does the work of the LSTM's forget and "
            "input gates together.",
            "Gates are what an LSTM is made of.",
            "A GRU carries information across many steps through its update gate, as an LSTM does through "
            "its cell state; on many tasks the two are close.",
        ),
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
        explanations=(
            "That is how a decoder runs at inference (free running); teacher forcing is the opposite.",
            "Right: during training the decoder is fed the true previous token rather than its own guess, "
            "so one early mistake does not derail the rest of the sequence.",
            "Every supervised model trains on labelled data; that is not a decoding technique.",
            "Attention weights are computed from the queries and keys, never imposed.",
        ),
    ),
    9: Question(
        "Which technique would most directly address the problem of exploding gradients in RNN training?",
        ("Increasing the learning rate", "Using a larger batch size", "Gradient clipping",
         "Adding more layers to the network"),
        "C",
        "Clipping rescales the gradient whenever its norm passes a threshold, so one huge step cannot throw the "
        "weights away. A larger learning rate or more layers make explosions worse; batch size does not bound them.",
        "03_rnn_lstm_gru",
        explanations=(
            "A larger learning rate multiplies an already huge gradient into an even larger step.",
            "A larger batch averages away noise, but a gradient that grows exponentially through time is "
            "huge in every batch.",
            "Right: clipping rescales the gradient whenever its norm passes a threshold, so one huge step "
            "cannot throw the weights away.",
            "More layers lengthen the product of Jacobians that explodes: worse, not better.",
        ),
    ),
    10: Question(
        "What is the key innovation of the Transformer architecture compared to previous sequence models?",
        ("The use of convolutional layers for text processing", "Replacing recurrence with self-attention mechanisms",
         "Implementing a novel word embedding technique", "Using reinforcement learning for sequence generation"),
        "B",
        "Every token attends to every other in one step, so a whole sequence is processed in parallel and distant "
        "words are one hop apart instead of many recurrent steps.",
        "05_transformer",
        explanations=(
            "Convolutional sequence models came before it (ConvS2S); the Transformer has no convolutions.",
            "Right: every token attends to every other in one step, so a sequence is processed in "
            "parallel and distant words are one hop apart instead of many recurrent steps.",
            "Its token embeddings are ordinary learned embeddings (chapter 02); the novelty is in the "
            "layers above.",
            "It trains by maximum likelihood with teacher forcing, like the seq2seq models before it; no "
            "reinforcement learning.",
        ),
    ),
    11: Question(
        "In BERT, what does the \"MLM\" (Masked Language Modeling) task involve?",
        ("Predicting the next sentence in a pair of sentences", "Predicting randomly masked tokens in the input",
         "Translating text from one language to another", "Classifying the sentiment of a given text"),
        "B",
        "About 15% of the input tokens are hidden and the model predicts them from both sides of the context; "
        "next-sentence prediction was BERT's second, separate pre-training task.",
        "06_pretrained_bert",
        explanations=(
            "That is next-sentence prediction, BERT's second, separate pre-training task.",
            "Right: about 15% of the tokens are hidden and predicted from the context on both sides.",
            "Translation is a sequence-to-sequence task (chapter 04), not one of BERT's pre-training "
            "objectives.",
            "Sentiment is a downstream task BERT is fine-tuned on (chapters 06 and 08), after "
            "pre-training.",
        ),
    ),
    12: Question(
        "What is the primary purpose of layer normalization in deep neural networks?",
        ("To reduce the number of parameters in the model", "To make the training process more stable and faster",
         "To prevent overfitting by adding noise to the inputs", "To increase the representational capacity of the network"),
        "B",
        "Normalizing each token's activations to zero mean and unit variance keeps their scale steady from layer to "
        "layer, so deep stacks train with larger learning rates and fewer divergences.",
        "05_transformer",
        explanations=(
            "It adds parameters (a gain and a bias per feature), few, but it removes none.",
            "Right: each token's activations are rescaled to zero mean and unit variance, so their scale "
            "stays steady from layer to layer and deep stacks train stably with larger learning rates.",
            "Adding noise to regularize is dropout's idea; layer normalization is deterministic.",
            "Its gain and bias can undo the normalization, so it changes what is easy to learn, not what "
            "the network can represent.",
        ),
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
        explanations=(
            "That is greedy decoding, which is beam search with a beam of one.",
            "Right: it keeps the k most probable partial sequences at each step instead of committing to "
            "one.",
            "It is a decoding algorithm used at inference; training is unchanged.",
            "Learning-rate schedules (warmup, decay) belong to the optimizer (chapters 06 and 08), not to "
            "decoding.",
        ),
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
        explanations=(
            "Right: pre-training on unlabelled text already taught the model language, so a few thousand "
            "labelled examples go a long way.",
            "A task-specific head is still needed (for classification, a linear layer on a pooled "
            "vector), though it is small.",
            "Nothing is guaranteed: a CPU-sized transformer fine-tuned on a few thousand reviews at a "
            "short window has to be measured against simple baselines such as TF-IDF (the course's "
            "benchmark table).",
            "A Transformer of BERT's size is slower per step than a small RNN; what it saves is labelled "
            "data, not compute.",
        ),
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
        explanations=(
            "That is cross-attention (encoder-decoder attention): queries from the decoder, keys and "
            "values from the encoder.",
            "Right: one sequence attends to itself; Q, K and V are three projections of the same tokens.",
            "Every attention weighs tokens by relevance; that is what attention does, not what makes it "
            "'self'.",
            "Long-document attention patterns are Longformer's, BigBird's and Reformer's (chapter 07); "
            "plain self-attention costs time quadratic in the length.",
        ),
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
    # 09 · deployment
    "09.1": Question(
        "Dynamic int8 quantization makes a Transformer faster on a CPU. Where does the time go away?",
        ("It removes layers the classifier does not need", "Its Linear layers multiply int8 weights by int8 "
         "activations, several products per instruction", "It prunes the attention heads that matter least",
         "It moves the model to the GPU"),
        "B",
        "Each Linear layer's weights are stored as int8 once; at run time its input is quantized on the fly "
        "(that is the 'dynamic' part) and the matrix product runs on 8-bit integers, which the CPU multiplies "
        "and adds several at a time (AVX2's VPMADDUBSW; VNNI and AMX do more per instruction). Nothing is removed "
        "or pruned, and it is a CPU technique.",
        "09_deployment",
        explanations=(
            "Every layer stays; quantization changes the numbers' type, not the architecture.",
            "Right: the Linear layers, most of a Transformer's time, run as 8-bit integer matrix products.",
            "That is pruning, a different technique; quantization keeps every head.",
            "Dynamic quantization targets CPUs (PyTorch's int8 kernels here are fbgemm's, for x86).",
        ),
    ),
    "09.2": Question(
        "Why does micro-batching (grouping concurrent requests into one forward pass) raise a server's "
        "throughput?",
        ("Each request is computed faster on its own", "One pass over 16 texts costs less than 16 passes over "
         "one text each", "It caches the answers to repeated texts", "It answers only some of the requests"),
        "B",
        "A forward pass has a fixed cost per call (Python, the framework, reading every weight from memory) and "
        "matrix products are more efficient on larger matrices, so one pass over many texts costs less than many "
        "passes over one. A request may even wait a few milliseconds longer for its batch: throughput rises, a "
        "single request's latency does not fall.",
        "09_deployment",
        explanations=(
            "The opposite can happen: a request waits for its batch to fill, so alone it is no faster.",
            "Right: the fixed cost per call and reading the weights are shared by the whole batch.",
            "Nothing is cached; every text is computed.",
            "Every request gets its answer; they are only grouped.",
        ),
    ),
    "09.3": Question(
        "`torch.onnx.export(..., dynamo=True)` wrote `model.onnx` and `model.onnx.data`. What goes to the server?",
        ("`model.onnx` alone: it is the model", "Both files, side by side in one folder",
         "`model.onnx.data` alone: it holds the weights", "Either one; they are copies"),
        "B",
        "The graph is in `model.onnx`; the weights are in `model.onnx.data` (external data), which the graph "
        "names by its file name. onnxruntime needs both, in the same folder, to load it.",
        "09_deployment",
        explanations=(
            "The graph refers to weights it does not hold: onnxruntime fails to load it without the .data file.",
            "Right: the graph and its external weights travel together.",
            "Weights without the graph are numbers with no computation to run.",
            "They hold different things: the computation and the weights.",
        ),
    ),
    # 10 · review: questions across chapters
    "10.1": Question(
        "A review is 900 WordPiece tokens long. Which of the course's models reads all of it?",
        ("Chapter 08's fine-tuned MiniLM, with head+tail truncation", "BERT, with its 512 positions",
         "The TF-IDF bag of words of chapter 00", "None: every model truncates"),
        "C",
        "A bag of words counts every word of the review, however long; a Transformer reads a fixed window (512 "
        "positions for BERT, 128 tokens in chapter 08's CPU profile), and head+tail keeps the opening and the "
        "ending but drops the middle. Chapter 07's Longformer and BigBird stretch the window to thousands.",
        "10_review",
        explanations=(
            "Head+tail keeps a quarter of the window from the start and the rest from the end: the middle is cut.",
            "BERT's learned position embeddings stop at 512, so a longer review must be truncated or chunked.",
            "Right: TF-IDF counts every word (and bigram) of the review, whatever its length.",
            "Bag-of-words models have no window; only position-based models do.",
        ),
    ),
    "10.2": Question(
        "Which of these changes can change what a trained sentiment classifier predicts for a review?",
        ("Temperature scaling of its logits (chapter 08)", "Exporting it to ONNX and running it in fp32 "
         "(chapter 09)", "Reading the review with head truncation instead of the head+tail it was trained with",
         "Batching reviews of similar lengths together (chapter 08)"),
        "C",
        "The model learned from head+tail windows: reading only the head shows it different tokens, and for a "
        "long review whose verdict is at the end the prediction can flip. The other three leave every "
        "prediction as it was (up to float rounding in the last digits).",
        "10_review",
        explanations=(
            "Dividing both logits by the same positive number keeps their order: probabilities change, labels "
            "do not.",
            "The same computation in another runtime: probabilities agree to about 1e-6 (chapter 09 checks it).",
            "Right: the model sees different tokens, so its input, and possibly its answer, changes.",
            "The attention mask hides padding, so a review's logits do not depend on its batch neighbours.",
        ),
    ),
}

# 06 pre-trained models and fine-tuning
COURSE_QUESTIONS |= {
    "06.1": Question(
        "BERT chooses 15% of the tokens for prediction. Why does it turn only 80% of the chosen ones into [MASK] "
        "and leave 10% unchanged?",
        ("To make pre-training cheaper",
         "So that the input does not give away which tokens will be asked about, and the model keeps useful "
         "vectors for real tokens, the only kind it sees when fine-tuned",
         "Because subword tokens cannot be masked",
         "To keep the [MASK] embedding from overfitting"),
        "B",
        "If every chosen token became [MASK], the model could learn to do its work only at [MASK] positions, and "
        "[MASK] never appears in fine-tuning or use; unchanged and random tokens force it to represent every token "
        "well. It costs the same compute (A is wrong), subwords are masked like any token (C), and the [MASK] "
        "embedding is one vector among 30,522, not the concern (D).",
        "06_pretrained_bert",
    ),
    "06.2": Question(
        "Why did RoBERTa drop BERT's next-sentence prediction (NSP) task?",
        ("NSP cannot be computed with a byte-level BPE vocabulary",
         "Without it, downstream results matched or improved: a random sentence from another document usually "
         "changes topic, so NSP is mostly solved by topic matching and teaches little about coherence",
         "NSP doubled the cost of pre-training",
         "NSP needs human-labelled sentence pairs"),
        "B",
        "Liu et al. (2019) compared inputs with and without NSP and found removing it matched or helped; this chapter "
        "shows a word-overlap feature alone beats chance on NSP but not on sentence-order prediction. NSP works with "
        "any tokenizer (A), adds one small head to the same forward pass (C), and builds its labels from raw text, "
        "no annotation needed (D).",
        "06_pretrained_bert",
    ),
    "06.3": Question(
        "What does learning-rate warmup protect against when fine-tuning a pre-trained model?",
        ("Overfitting in the last epoch",
         "Vanishing gradients in the lower layers",
         "Large, badly aimed updates in the first steps, while the new head is random and Adam's statistics rest "
         "on a few batches, which can wreck the pre-trained weights",
         "Slow steps: each warmup step costs less compute"),
        "C",
        "Warmup raises the learning rate from 0 over the first steps, so the early updates, driven by a random head "
        "and noisy optimizer statistics, stay small. Overfitting is addressed by decay, early stopping or fewer "
        "epochs (A); residual connections and layer norm, not the schedule, keep gradients flowing (B); and every "
        "step costs the same whatever its learning rate (D).",
        "06_pretrained_bert",
    ),
}

# 07 · Long documents
COURSE_QUESTIONS |= {
    "07.1": Question(
        "Why does Transformer-XL encode the distance between query and key instead of absolute positions?",
        ("Relative positions are cheaper to compute than absolute ones",
         "Cached states from the previous segment would get the same absolute positions as the current one's",
         "They let each token attend to future tokens as well",
         "They make the memory of the previous segment unnecessary"),
        "B",
        "Each segment numbers its tokens 0 to T - 1, so position 5 of the memory and position 5 of the new "
        "segment would look identical; a distance i - j stays right however the text was cut. They are not "
        "cheaper (the position term needs its own product and a shift), attention stays causal, and the "
        "distances are what make the memory usable, not a replacement for it.",
        "07_long_documents",
    ),
    "07.2": Question(
        "Longformer attention with a window of w tokens reads a text of n tokens. How does the memory for "
        "its attention scores grow?",
        ("Like n * n, only with a smaller constant", "Like w * w, whatever the length",
         "Like n * w: linear in the text's length", "Like n * log n, because of a sort"),
        "C",
        "Every token scores about w neighbours (plus the few global tokens), so the scores take n * w "
        "numbers, twice as many for twice the text. A masked n x n matrix would still be n * n, w * w "
        "ignores that every token needs its row, and the sort (n log n) belongs to Reformer's hashing.",
        "07_long_documents",
    ),
    "07.3": Question(
        "Why does Reformer hash every token several times (several rounds of LSH)?",
        ("Close vectors still land in different buckets now and then; every extra round gives them another "
         "chance to meet", "To make each bucket smaller", "To make the attention causal",
         "To use less memory than a single round"),
        "A",
        "A random rotation can cut between two close vectors; with r independent rounds the chance of never "
        "sharing a bucket shrinks like (miss rate)^r. Bucket size is set by the number of buckets, causality "
        "by a mask, and every round costs its own memory and time.",
        "07_long_documents",
    ),
    "07.4": Question(
        "A transformers `BigBirdModel` (block size 64, 3 random blocks, block-sparse) is given one input of "
        "600 tokens, then one of 4,000. What attention does the second input get?",
        ("Block-sparse: every input is handled on its own",
         "An error: the model was built for another length",
         "Block-sparse, after padding to a multiple of 704",
         "Full attention: the short input switched the model's attention type for good"),
        "D",
        "Inputs of (5 + 2 * 3) * 64 = 704 tokens or fewer cannot use the sparse pattern, so the model logs a "
        "warning and calls set_attention_type('original_full'), which swaps every layer's attention for full "
        "attention until you call set_attention_type('block_sparse') yourself (model.config still says "
        "block_sparse). Inputs are padded to a multiple of the block size (64), not of 704, and nothing fails.",
        "07_long_documents",
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
    """Print whether `letter` answers question `number`, why your option is right or wrong, and the explanation.

    Returns True when right.
    """
    q = _question(number)
    if not isinstance(letter, str):
        raise TypeError(f"Answer with a letter as a string, e.g. quiz.check({number!r}, \"B\"), got {letter!r}.")
    answer = letter.strip().upper()
    if len(answer) != 1 or answer not in LETTERS:
        raise ValueError(f"Answer with exactly one letter, A to D (got {letter!r}).")
    right = answer == q.answer
    if right:
        print(f"Correct. {q.why}")
    elif q.explanations:
        print(f"Not quite: the answer is {q.answer}. {answer}) {q.explanations[LETTERS.index(answer)]}\n{q.why}")
    else:
        print(f"Not quite: the answer is {q.answer}. {q.why}")
    return right


def explain(number: QuestionId) -> None:
    """Print every option of question `number` with why it is right or wrong (read it after answering)."""
    q = _question(number)
    print(f"{number}. {q.text}")
    for letter, option, why in zip(LETTERS, q.options, q.explanations or ("",) * len(q.options)):
        mark = "right" if letter == q.answer else "wrong"
        print(f"   {letter}) {option}  [{mark}]" + (f"\n      {why}" if why else ""))
    if not q.explanations:
        print(f"   {q.why}")
    print(f"   Taught in {q.chapter}.ipynb")


def for_chapter(chapter: str) -> list[QuestionId]:
    """Ids of the questions that belong to a notebook (e.g. '03_rnn_lstm_gru'): the outline's, then its own."""
    return ([n for n, q in QUESTIONS.items() if q.chapter == chapter]
            + [n for n, q in COURSE_QUESTIONS.items() if q.chapter == chapter])
