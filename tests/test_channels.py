"""Two-microphone clips (DCASE 2026): which channel is read, and the refusals, on hand-made stereo files."""
import numpy as np
import pytest
import soundfile as sf
from generated import generated

from core.errors import DataError
from dcase import channels
from dcase.reader import load_clips
from embeddings.features import compute_logmel, fingerprint, read_mono, read_wav


@pytest.fixture()
def stereo(tmp_path):
    """Left: a ramp in 1/32768 steps; right: its negative plus an offset, so left, right and mean all differ."""
    left = (np.arange(1600) % 1000 - 500) / 32768
    right = -left + 100 / 32768
    path = tmp_path / "clip.wav"
    sf.write(path, np.stack([left, right], 1), 16000, subtype="PCM_16")
    return str(path), left.astype(np.float32), right.astype(np.float32)


def test_left_right_mean_and_stack_are_what_they_say(stereo):
    path, left, right = stereo
    np.testing.assert_array_equal(read_wav(path, "left"), left)
    np.testing.assert_array_equal(read_wav(path, "right"), right)
    np.testing.assert_allclose(read_wav(path, "mean"), (left + right) / 2, atol=1e-7)
    np.testing.assert_array_equal(read_wav(path, "stack"), np.stack([left, right]))
    assert channels.resolve("near") == "left" and channels.resolve("far") == "right"


def test_a_stereo_clip_without_a_channel_is_refused_in_one_line(stereo):
    with pytest.raises(DataError, match=r"clip\.wav: 2 channels; choose one with --channel"):
        read_wav(stereo[0])
    with pytest.raises(DataError, match="takes one channel, not --channel stack"):
        read_mono(stereo[0], "stack", "ae2023")
    with pytest.raises(ValueError, match="choose one of left, right, mean, stack"):
        channels.resolve("centre")


def test_stack_gives_two_planes_of_log_mel_one_per_microphone(stereo):
    path, left, right = stereo
    both, frames = compute_logmel([path], channel="stack")
    alone = [compute_logmel([path], channel=c)[0] for c in ("left", "right")]
    assert both.shape[1] == 2 * alone[0].shape[1] and frames[0] == 1 + len(left) // 512
    np.testing.assert_array_equal(both[:, :128], alone[0])
    np.testing.assert_array_equal(both[:, 128:], alone[1])


def test_a_stereo_clip_in_a_2023_tree_is_refused_naming_channel_and_read_with_it(tmp_path):
    root = generated(tmp_path / "d23", "dcase2023")
    clip = sorted((root / "dev_data" / "raw" / "fan" / "train").glob("*.wav"))[0]
    mono, rate = sf.read(clip)
    sf.write(clip, np.stack([mono, mono * 0.5], 1), rate, subtype="PCM_16")
    with pytest.raises(DataError, match=rf"{clip.name}: 2 channels; pass --channel left\|right\|mean\|stack"):
        load_clips(root)
    _, table = load_clips(root, channel="left")
    assert (table.channel == "left").all() and clip.name in set(table.file)
    np.testing.assert_allclose(read_wav(str(clip), "left"), mono, atol=1e-4)
    keys = {fingerprint(table.assign(channel=c)) for c in ("", "left", "right", "mean", "stack")}
    assert len(keys) == 5  # the channel is in every cache key


def test_the_2026_stand_in_is_stereo_and_read_near_by_default(tmp_path):
    root = generated(tmp_path / "d26", "dcase2026")
    task, table = load_clips(root)
    assert task.name == "dcase2026" and (table.channel == "left").all()
    audio, _ = sf.read(table.path.iloc[0])
    assert audio.ndim == 2 and audio.shape[1] == 2
    near, far = audio.T
    assert 0.2 < np.std(far) / np.std(near) < 1.0  # the far microphone hears the machine weaker, over the same room
    assert load_clips(root, channel="far")[1].channel.iloc[0] == "right"
