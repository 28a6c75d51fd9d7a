"""The loader, the front end and the pipeline on real DCASE 2020 and MIMII recordings (`../shared/realdata/`)."""
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from bench.cli import main
from dcase.audio import check_wav
from dcase.importer import import_release_clips
from dcase.reader import load_clips
from embeddings.features import read_wav

REAL = Path(os.environ.get("ASD_BENCH_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata"))
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"no real recordings at {REAL}")
MIMII = REAL / "brmdv+machine-malfunction-detection" / "test_audio"


def release_clips():
    return sorted(p for p in REAL.rglob("*.wav") if sf.info(str(p)).channels == 1)


@pytest.fixture(scope="module")
def real_tree(tmp_path_factory):
    out, skipped = import_release_clips(REAL, tmp_path_factory.mktemp("real") / "tree")
    return out, skipped


def test_every_real_release_clip_passes_the_wav_check():
    clips = release_clips()
    assert len(clips) >= 100
    assert [(p, check_wav(p)) for p in clips if check_wav(p)] == []


def test_a_mono_wav_with_an_extensible_header_is_read_like_the_plain_one(tmp_path):
    plain = REAL / "mamisoa+mlops-sound-anomaly/sounds/samples/normal/fan/normal_id_00_00000000.wav"
    audio, sr = sf.read(str(plain), dtype="int16")
    wavex = tmp_path / plain.name
    sf.write(str(wavex), audio, sr, format="WAVEX", subtype="PCM_16")
    assert sf.info(str(wavex)).format == "WAVEX"
    assert check_wav(wavex) is None
    np.testing.assert_array_equal(read_wav(str(wavex)), read_wav(str(plain)))


@pytest.mark.parametrize("name", ["fan_normal.wav", "valve_abnormal.wav", "00000000.wav"])
def test_an_original_8_channel_mimii_file_is_refused_for_its_channels(name):
    reason = check_wav(MIMII / name)
    assert reason.startswith("8 channels, expected mono")
    assert "one microphone" in reason and "remix 1" in reason
    assert "WAVEX" not in reason


def test_the_8_channel_flac_is_refused_as_not_a_wav():
    assert "a FLAC file, not a RIFF WAV" in check_wav(MIMII / "00000000.flac")


def test_import_lays_release_clips_out_as_a_dcase_tree(real_tree):
    out, skipped = real_tree
    table = load_clips(out)[1]
    assert set(table.machine_type) == {"ToyCar", "ToyConveyor", "fan", "pump", "slider", "valve"}
    assert (table.split == "dev").sum() >= 60
    for (machine_type, section), g in table.groupby(["machine_type", "section"]):
        test = g[g.split == "dev"]
        assert (g.split == "train").any(), f"{machine_type} {section} has nothing to train on"
        assert test.empty or set(test.label) == {0, 1}, f"{machine_type} {section} test clips of one class"
    assert any(s.startswith(f"{MIMII / 'fan_normal.wav'}: not a release name") for s in skipped)


@pytest.mark.slow
def test_the_pipeline_runs_end_to_end_on_real_recordings(real_tree, tmp_path, capsys):
    out, _ = real_tree
    results = tmp_path / "results"
    main(["run", "--data", str(out), "--preset", "tiny", "--device", "cpu", "--methods", "softmax,centroid,knn:k=1",
          "--cache", str(tmp_path / "cache"), "--results", str(results), "--leaderboard", str(tmp_path / "LB.md")])
    rows = pd.read_csv(results / "results.csv", dtype={"section": str})
    table = load_clips(out)[1]
    tested = table[table.split == "dev"].groupby(["machine_type", "section"]).ngroups
    assert len(rows) == 3 * tested
    assert rows.auc.between(0, 1).all() and rows.pauc.between(0, 1).all()
    assert set(rows.machine_type) == set(table.machine_type)
    assert "ToyCar" in (tmp_path / "LB.md").read_text()


def test_compare_of_a_tree_with_itself_is_identity_and_names_every_statistic(real_tree, tmp_path, capsys):
    out, _ = real_tree
    main(["data", "compare", str(out), str(out), "--json", str(tmp_path / "c.json")])
    table = pd.read_json(tmp_path / "c.json")
    assert len(table) == 6
    np.testing.assert_allclose(table["spectrum corr"], 1.0)
    for stat in ("level", "time var", "anomaly dist", "energy mod", "flatness", "centroid Hz"):
        np.testing.assert_allclose(table[f"{stat} A"], table[f"{stat} B"])
    assert (table["level A"] < 0).all()  # real clips sit well below full scale


def test_import_keeps_one_of_byte_identical_copies_and_reports_name_clashes(tmp_path):
    fan = REAL / "mamisoa+mlops-sound-anomaly/sounds/samples/normal/fan"
    a, b = sorted(fan.glob("normal_id_00_*.wav"))[:2]
    other = sorted(fan.glob("normal_id_02_*.wav"))[0]
    for folder in ("repo1/fan", "repo2/Fan_samples", "repo3/fan"):
        (tmp_path / folder).mkdir(parents=True)
    shutil.copy(a, tmp_path / "repo1/fan")
    shutil.copy(b, tmp_path / "repo1/fan")
    shutil.copy(a, tmp_path / "repo2/Fan_samples")           # the same clip again
    shutil.copy(other, tmp_path / "repo3/fan" / a.name)      # other audio under a's name
    out, skipped = import_release_clips(tmp_path, tmp_path / "tree")
    assert sorted(p.name for p in out.rglob("*.wav")) == sorted([a.name, b.name])
    assert any("repo2/Fan_samples" in s and "same audio as" in s for s in skipped)
    assert any("repo3/fan" in s and "other audio under the same name" in s for s in skipped)


def test_import_refuses_a_missing_folder_and_an_existing_output(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["data", "import", str(tmp_path / "nope"), str(tmp_path / "out")])
    assert exit_.value.code == 2 and "folder not found" in capsys.readouterr().err
    (tmp_path / "out").mkdir()
    with pytest.raises(SystemExit):
        main(["data", "import", str(REAL), str(tmp_path / "out")])
    assert "already exists" in capsys.readouterr().err
