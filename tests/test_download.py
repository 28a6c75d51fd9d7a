"""`bench data download` against a local HTTP server on 127.0.0.1 serving small archives with the real names and
layout: a cut transfer resumes, a rerun fetches nothing, a corrupt archive fails in one line with nothing
half-written, and the ground truth is in place afterwards."""
import hashlib
import shutil
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from generated import generated

from bench.cli import main
from core.errors import DataError
from dcase import download as download_module
from dcase.download import Fetcher, download
from dcase.reader import load_clips
from dcase.tasks import get_task


class Handler(SimpleHTTPRequestHandler):
    """Static files with HTTP Range; the first GET of a path in `cut` sends half its bytes and hangs up, and
    each path in `busy` answers 503 as many times as it is listed there."""
    requests: list = []
    cut: set = set()
    busy: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        self.requests.append((self.command, self.path, self.headers.get("Range")))
        if not path.is_file():
            self.send_error(404)
            return
        if self.path in self.busy:
            self.busy.remove(self.path)
            self.send_error(503)
            return
        data = path.read_bytes()
        start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if self.path in self.cut:
            self.cut.discard(self.path)
            body = body[: len(body) // 2]
        self.wfile.write(body)
        self.close_connection = True

    def do_HEAD(self):
        path = Path(self.translate_path(self.path))
        self.requests.append((self.command, self.path, None))
        if not path.is_file():
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()


def _zip(out: Path, root: Path, members: list[str]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as z:
        for member in members:
            for path in sorted((root / member).rglob("*")) if (root / member).is_dir() else [root / member]:
                z.write(path, path.relative_to(root).as_posix())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The 2023 archives of fan (development) and bandsaw (evaluation) and both forms of ground truth, under the
    paths of their real URLs; ToyCar's development archive is corrupt."""
    work = tmp_path_factory.mktemp("download")
    data = generated(work / "data", "dcase2023", workers=2)
    serve = work / "serve"
    dev, ev = data / "dev_data" / "raw", data / "eval_data" / "raw"
    _zip(serve / "records/7882613/files/dev_fan.zip", dev, ["fan/train", "fan/test", "fan/attributes_00.csv"])
    _zip(serve / "records/7830345/files/eval_data_bandsaw_train.zip", ev, ["bandsaw/train", "bandsaw/attributes_00.csv"])
    _zip(serve / "records/7860847/files/eval_data_bandsaw_test.zip", ev, ["bandsaw/test"])
    (serve / "records/7882613/files/dev_ToyCar.zip").write_bytes(b"PK\x03\x04 not really a zip" * 100)
    task = get_task("dcase2023")
    for url, rel in task.ground_truth_files(["bandsaw"]):
        target = serve / url.split("githubusercontent.com/", 1)[1]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data / rel, target)
    SERVED_MD5.update({z.name: hashlib.md5(z.read_bytes()).hexdigest() for z in serve.rglob("*.zip")})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(serve)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", data
    httpd.shutdown()


SERVED_MD5: dict = {}  # the served stand-in archives' MD5s, by name
PUBLISHED_MD5 = dict(get_task("dcase2023").archive_md5)


@pytest.fixture(autouse=True)
def served_archives_pinned(server, monkeypatch):
    """The 2023 year pinned to the stand-in archives' MD5s, as it is to the real ones'."""
    monkeypatch.setattr(type(get_task("dcase2023")), "archive_md5", dict(SERVED_MD5))


def test_an_archive_whose_md5_differs_from_its_record_fails_in_one_line_and_nothing_is_kept(server, tmp_path,
                                                                                            monkeypatch):
    mirror, _ = server
    task, root = get_task("dcase2023"), tmp_path / "root"
    monkeypatch.setattr(type(task), "archive_md5", {"dev_fan.zip": PUBLISHED_MD5["dev_fan.zip"]})
    with pytest.raises(DataError, match=rf"dev_fan\.zip: MD5 {SERVED_MD5['dev_fan.zip']}, its Zenodo record lists "
                                        rf"{PUBLISHED_MD5['dev_fan.zip']}; the download was deleted"):
        download(task, root, "dev", ["fan"], mirror, fetcher=Fetcher(retries=0), progress=lambda m: None)
    assert not (root / "dev_data/raw/fan").exists() and not list((root / ".downloads").glob("*.part"))


def test_the_pinned_md5s_cover_every_archive_of_the_years_that_publish_them():
    for name, pinned in (("dcase2020", get_task("dcase2020").archive_md5), ("dcase2023", PUBLISHED_MD5)):
        task = get_task(name)
        archives = {task.archive(part, t).rsplit("/", 1)[-1] for part, types in
                    (("dev", task.dev_types), ("train", task.eval_types), ("test", task.eval_types)) for t in types}
        assert set(pinned) == archives
        assert all(len(md5) == 32 and int(md5, 16) >= 0 for md5 in pinned.values())


def test_a_cut_transfer_resumes_a_rerun_fetches_nothing_and_the_ground_truth_is_in_place(server, tmp_path, monkeypatch):
    mirror, data = server
    monkeypatch.setattr(download_module, "CHUNK", 4096)  # blocks small enough that half an archive reaches the disk
    task, root = get_task("dcase2023"), tmp_path / "root"
    Handler.requests.clear()
    Handler.cut = {"/records/7830345/files/eval_data_bandsaw_train.zip"}
    fetched = download(task, root, "all", ["fan", "bandsaw"], mirror, fetcher=Fetcher(retries=3, backoff=0.01),
                       progress=lambda m: None)
    assert fetched == ["dev_fan.zip", "eval_data_bandsaw_train.zip", "eval_data_bandsaw_test.zip"]
    resumed = [r for r in Handler.requests if r[1].endswith("bandsaw_train.zip") and r[0] == "GET"]
    assert len(resumed) == 2 and resumed[1][2].startswith("bytes=") and resumed[1][2] != "bytes=0-"
    assert not list((root / ".downloads").glob("*.part"))
    for kind in ("train", "test"):
        original = sorted(p.name for p in (data / "eval_data/raw/bandsaw" / kind).iterdir())
        assert sorted(p.name for p in (root / "eval_data/raw/bandsaw" / kind).iterdir()) == original
    year, table = load_clips(root)
    assert year.name == "dcase2023" and set(table.machine_type) == {"fan", "bandsaw"}
    ev = table[table.split == "eval"]
    assert len(ev) and (ev.label >= 0).all() and (ev.domain != "unknown").all()  # labelled without --ground-truth
    Handler.requests.clear()
    assert download(task, root, "all", ["fan", "bandsaw"], mirror, progress=lambda m: None) == []
    assert Handler.requests == []  # a complete root: nothing fetched, not even sizes


def test_a_corrupt_archive_fails_in_one_line_and_leaves_nothing_half_written(server, tmp_path, capsys):
    mirror, _ = server
    root = tmp_path / "root"
    with pytest.raises(SystemExit) as stop:
        main(["data", "download", "--task", "dcase2023", "--split", "dev", "--types", "ToyCar", "--out", str(root),
              "--mirror", mirror, "--retries", "0"])
    assert stop.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "bench: error" in line]
    assert len(err) == 1 and "dev_ToyCar.zip: not a readable zip archive" in err[0] and "run the command again" in err[0]
    assert not (root / "dev_data/raw/ToyCar").exists() and not list((root / ".downloads").glob("*.part"))


def test_a_missing_archive_and_an_unknown_type_are_one_line_errors(server, tmp_path):
    mirror, _ = server
    task = get_task("dcase2023")
    with pytest.raises(DataError, match=r"dev_gearbox\.zip: not found \(404\)"):
        download(task, tmp_path, "dev", ["gearbox"], mirror, fetcher=Fetcher(retries=0), progress=lambda m: None)
    with pytest.raises(DataError, match="no machine type drill in its dev archives; choose from ToyCar"):
        download(task, tmp_path, "dev", ["drill"], mirror, progress=lambda m: None)
    assert not (tmp_path / "dev_data/raw/gearbox").exists()


def test_dry_run_lists_archives_with_sizes_and_targets(server, tmp_path):
    mirror, _ = server
    lines = []
    download(get_task("dcase2023"), tmp_path, "eval", ["bandsaw"], mirror, dry_run=True, progress=lines.append)
    assert lines[0].startswith("eval_data_bandsaw_train.zip") and "GB" in lines[0] and "eval_data/raw/bandsaw" in lines[0]
    assert any("eval_data_list_2023.csv" in line for line in lines) and not (tmp_path / ".downloads").exists()


def test_a_busy_server_is_retried_with_back_off_and_a_lasting_5xx_is_one_line(server, tmp_path):
    mirror, _ = server
    url = f"{mirror}/records/7882613/files/dev_fan.zip"
    Handler.busy[:] = ["/records/7882613/files/dev_fan.zip"] * 2
    Handler.requests.clear()
    Fetcher(retries=3, backoff=0.01).fetch(url, tmp_path / "fan.zip")
    gets = [r for r in Handler.requests if r[0] == "GET"]
    assert len(gets) == 3 and zipfile.ZipFile(tmp_path / "fan.zip").testzip() is None
    Handler.busy[:] = ["/records/7882613/files/dev_fan.zip"] * 3
    with pytest.raises(DataError, match=r"dev_fan.zip: HTTP 503 after 3 tries; run the command again later"):
        Fetcher(retries=2, backoff=0.01).fetch(url, tmp_path / "again.zip")
    Handler.busy.clear()
