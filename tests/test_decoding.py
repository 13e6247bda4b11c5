import doctest

import pytest
import torch

from helpers import decoding, seq2seq


def _trap_table() -> torch.Tensor:
    """Tokens 0 <bos>, 1 <eos>, 2 'a', 3 'b': greedy takes 'a' (0.6) but 'b' <eos> (0.4 * 0.9) is likelier."""
    p = torch.full((4, 4), 1e-3)
    p[0, 2], p[0, 3] = 0.6, 0.4 - 2e-3
    p[2, 1], p[2, 2], p[2, 3] = 0.34, 0.33, 0.33 - 3e-3
    p[3, 1], p[3, 2] = 0.9, 0.1 - 3e-3
    p[1, 1] = 1.0 - 3e-3
    return p / p.sum(1, keepdim=True)


def _src():
    return torch.zeros(3, dtype=torch.long), torch.tensor(3)


def test_doctests():
    assert doctest.testmod(decoding).failed == 0


def test_greedy_misses_the_most_probable_output_and_beam_search_finds_it():
    model = decoding.TableDecoder(_trap_table())
    src, length = _src()
    greedy = decoding.greedy_decode(model, src[None], length[None], bos=0, eos=1, max_len=4)
    assert greedy == [[2]]  # 'a' then <eos>: 0.6 * 0.34 = 0.20
    best = decoding.beam_search(model, src, length, bos=0, eos=1, max_len=4, beam_size=2)[0]
    assert (best.tokens == [3]
            and best.log_prob == pytest.approx(torch.tensor(0.4 * 0.9).log().item(), abs=0.01))


def test_beam_of_one_is_greedy_search():
    torch.manual_seed(0)
    model = seq2seq.make_model("bahdanau", 8, 16).eval()
    batch = seq2seq.make_batch([("forty-two thousand six", "42006"), ("nine", "9")])
    greedy = decoding.greedy_decode(model, batch.src, batch.src_lengths, seq2seq.BOS_ID, seq2seq.EOS_ID, 6)
    for row in range(2):
        n = batch.src_lengths[row]
        beam = decoding.beam_search(model, batch.src[row, :n], n, seq2seq.BOS_ID, seq2seq.EOS_ID, 6,
                                    beam_size=1)
        assert beam[0].tokens == greedy[row]


@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_beam_as_wide_as_every_output_is_exhaustive_search(alpha, seed):
    g = torch.Generator().manual_seed(seed)
    # tokens 0 <bos>, 1 <eos>, 2
    model = decoding.TableDecoder(torch.randn(3, 3, generator=g).mul(2).softmax(-1))
    src, length = _src()
    best = decoding.exhaustive_search(model, src, length, bos=0, eos=1, max_len=5, alpha=alpha)
    beam = decoding.beam_search(model, src, length, bos=0, eos=1, max_len=5, beam_size=3**5, alpha=alpha)[0]
    assert beam.tokens == best.tokens
    assert beam.score == pytest.approx(best.score, abs=1e-5)


def test_beam_search_equals_exhaustive_search_on_a_real_decoder_with_a_tiny_vocabulary():
    torch.manual_seed(0)
    model = seq2seq.Seq2Seq(seq2seq.Encoder(5, 4, 8), seq2seq.BahdanauDecoder(3, 4, 8, 16)).eval()
    src, length = torch.tensor([2, 3, 4, 2]), torch.tensor(4)
    for alpha in (0.0, 1.0):
        best = decoding.exhaustive_search(model, src, length, bos=0, eos=1, max_len=4, alpha=alpha)
        beam = decoding.beam_search(model, src, length, bos=0, eos=1, max_len=4, beam_size=81, alpha=alpha)
        assert beam[0].tokens == best.tokens and beam[0].score == pytest.approx(best.score, abs=1e-5)


def test_length_normalization_lets_longer_outputs_win():
    p = torch.full((4, 4), 0.01)
    p[0, 1], p[0, 2] = 0.5, 0.47  # stop now (0.5) or write 'x' first
    p[2, 2], p[2, 1] = 0.02, 0.95
    table = p / p.sum(1, keepdim=True)
    src, length = _src()
    raw = decoding.beam_search(decoding.TableDecoder(table), src, length, 0, 1, max_len=4, beam_size=3,
                               alpha=0.0)
    normalized = decoding.beam_search(decoding.TableDecoder(table), src, length, 0, 1, max_len=4, beam_size=3,
                                      alpha=1.0)
    assert raw[0].tokens == [] and normalized[0].tokens == [2]


def test_beam_search_stops_when_every_hypothesis_has_ended():
    calls = []
    model = decoding.TableDecoder(_trap_table())
    step = model.step
    model.step = lambda tokens, state: calls.append(1) or step(tokens, state)
    src, length = _src()
    decoding.beam_search(model, src, length, bos=0, eos=1, max_len=50, beam_size=1)
    assert len(calls) == 2  # 'a', then <eos>: not 50 steps


def test_bad_arguments_say_what_to_do():
    src, length = _src()
    with pytest.raises(ValueError, match="beam_size"):
        decoding.beam_search(decoding.TableDecoder(_trap_table()), src, length, 0, 1, 4, beam_size=0)
    with pytest.raises(ValueError, match="square"):
        decoding.TableDecoder(torch.ones(3, 4))
