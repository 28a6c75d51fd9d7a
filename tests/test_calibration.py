"""The generator's calibration to real recordings and the statistics behind `bench data compare`."""
import numpy as np
import pytest
from test_realdata import REAL

from datatools import calibrate
from datatools.datastats import TypeStats, anomaly_distance_db, clip_features, mel_centres_hz, type_stats
from dcase import synth
from dcase.importer import import_release_clips
from dcase.reader import load_clips
from dcase.synth import MACHINE_TYPES

needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"no real recordings at {REAL}")


def test_clip_features_on_a_hand_made_log_mel():
    # two bands, four frames (a fifth is padding): band 0 steps 0/10 dB, band 1 is flat at 0 dB
    mel = np.array([[[0.0, 10.0, 0.0, 10.0, -100.0], [0.0, 0.0, 0.0, 0.0, -100.0]]])
    f = clip_features(mel, np.array([4]))
    np.testing.assert_allclose(f["spectrum"], [[5.0, 0.0]])
    assert f["level"][0] == pytest.approx(2.5)
    assert f["time_variation"][0] == pytest.approx(2.5)  # std 5 and 0, averaged over bands
    # frame energies 1 + 1 = 2 and 10 + 1 = 11: std of 10 log10 of them is half their distance in dB
    assert f["energy_modulation"][0] == pytest.approx(5 * np.log10(11 / 2))
    # flatness: geometric / arithmetic mean over bands, 1 for equal bands, sqrt(10) / 5.5 for 10 and 1
    assert f["flatness"][0] == pytest.approx((1 + np.sqrt(10) / 5.5) / 2)


def test_anomaly_distance_and_its_chance_level():
    rng = np.random.default_rng(0)
    normal = rng.normal(0, 1, (200, 8))
    shifted = TypeStats(normal, normal[:100] + 3.0, 0, 0, 0, 0, 0)
    distance, chance = anomaly_distance_db(shifted)
    assert distance == pytest.approx(3.0 + (normal[:100].mean(0) - normal.mean(0)).mean(), abs=0.2)
    assert chance < 1.0 < distance
    same = TypeStats(normal[:100], normal[100:], 0, 0, 0, 0, 0)
    distance, chance = anomaly_distance_db(same)
    assert distance < 2 * chance  # no real difference: the distance is of the order of chance


def test_mel_centres_are_htk_mel_band_centres():
    centres = mel_centres_hz()
    assert len(centres) == 128 and 0 < centres[0] < 40 and 7800 < centres[-1] < 8000
    np.testing.assert_allclose(np.diff(synth.mel(centres)), synth.mel(8000) / 129, rtol=1e-9)


def test_a_flat_envelope_is_a_gain_and_a_sloped_one_follows_the_mel_scale():
    t = np.arange(16000) / 16000
    tone = np.sin(2 * np.pi * 1000 * t)  # exactly on an FFT bin of a 1 s clip
    np.testing.assert_allclose(synth.apply_envelope(tone, [-20.0] * 32), 0.1 * tone, atol=1e-12)
    # an envelope of 0.01 dB per mel puts 1000 Hz (= 1000 mel) at +10 dB
    sloped = 0.01 * synth.mel(synth.control_frequencies(32))
    gain = np.sqrt(np.mean(synth.apply_envelope(tone, sloped) ** 2) / np.mean(tone ** 2))
    assert 20 * np.log10(gain) == pytest.approx(10.0, abs=1e-3)


def test_sway_is_one_at_zero_depth_and_has_the_depth_at_its_knots():
    assert np.all(synth.sway(np.random.default_rng(0), 16000, 0.0) == 1.0)
    gain = synth.sway(np.random.default_rng(0), 16000 * 4, 3.0, rate_hz=4.0)
    knots = np.random.default_rng(0).standard_normal(4 * 4 + 2)
    at_knots = 20 * np.log10(gain[:: 16000 // 4])
    np.testing.assert_allclose(at_knots, 3.0 * knots[: len(at_knots)], atol=1e-9)


def test_band_to_control_keeps_a_constant_and_follows_a_step():
    np.testing.assert_allclose(calibrate.band_to_control(np.full(128, -7.0)), -7.0)
    step = np.where(mel_centres_hz() < 2000, 0.0, 10.0)
    envelope = calibrate.band_to_control(step)
    freqs = synth.control_frequencies(32)
    assert np.all(envelope[freqs < 1500] < 1.0) and np.all(envelope[freqs > 2600] > 9.0)


@pytest.fixture(scope="module")
def real_stats(tmp_path_factory):
    out, _ = import_release_clips(REAL, tmp_path_factory.mktemp("real") / "tree")
    return out, type_stats(load_clips(out)[1])


@needs_real
@pytest.mark.slow
def test_the_shipped_calibration_meets_the_targets_on_fresh_clips(real_stats):
    """Clips the fit never rendered (another seed): spectra correlate >= 0.8, level within 3 dB, time variation within 1 dB."""
    _, real = real_stats
    assert set(synth.CALIBRATION) >= set(MACHINE_TYPES)
    for machine_type in MACHINE_TYPES:
        feats = calibrate.measure(calibrate.render_normals(machine_type, synth.CALIBRATION, 3, 2.0, seed=7))
        target = real[machine_type]
        assert np.corrcoef(feats["spectrum"].mean(0), target.normal_spectrum)[0, 1] >= 0.8, machine_type
        assert abs(feats["level"].mean() - target.level_db) <= 3.0, machine_type
        assert abs(feats["time_variation"].mean() - target.time_variation_db) <= 1.0, machine_type


@needs_real
@pytest.mark.slow
def test_a_short_fit_moves_every_type_towards_the_real_clips(real_stats):
    out, _ = real_stats
    fitted = calibrate.fit(load_clips(out)[1], rounds=2, clips_per_id=2, seconds=1.0, progress=lambda m: None)
    for machine_type in MACHINE_TYPES:
        report = fitted["_fit"]["report"][machine_type]
        assert abs(report["last"]["level"] - report["real"]["level"]) < abs(report["first"]["level"] - report["real"]["level"])
        assert report["last"]["corr"] > 0.9
        assert len(fitted[machine_type]["envelope_db"]) == calibrate.CONTROL_POINTS


def test_domain_statistics_on_hand_made_spectra():
    """Source normals at 0 dB, target normals at +1 dB, anomalies +3 dB in two of four bands: the shift is 1 dB,
    each domain's anomaly distance is sqrt(2 * 9 / 4) = 2.12 dB, and the distance to the source training mean ranks
    every anomaly above every normal of its domain's AUC set (AUC 1) but not target normals below source anomalies."""
    import pandas as pd

    from datatools.datastats import TypeStats, domain_stats
    rows = []
    for split, domain, label, level, n in (("train", "source", 0, 0.0, 3), ("dev", "source", 0, 0.0, 4),
                                          ("dev", "target", 0, 1.0, 4), ("dev", "source", 1, 0.0, 4),
                                          ("dev", "target", 1, 1.0, 4)):
        for i in range(n):
            spectrum = np.full(4, level) + 0.01 * i
            if label:
                spectrum[:2] += 3.0
            rows.append(dict(split=split, domain=domain, label=label, spectrum=spectrum))
    clips = pd.DataFrame(rows)
    stats = TypeStats(np.zeros((1, 4)), None, 0.0, 0.0, 0.0, 0.0, 0.0, clips)
    out = domain_stats(stats, permutations=20)
    assert out["shift"] == pytest.approx(1.0)
    assert out["anomaly source"] == pytest.approx(np.sqrt(2 * 9 / 4)) and out["anomaly target"] == pytest.approx(np.sqrt(2 * 9 / 4))
    assert out["anomaly source by chance"] < out["anomaly source"]
    assert out["AUC-source"] == 1.0 and out["AUC-target"] == 1.0
