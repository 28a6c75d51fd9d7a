"""Whether a file is a usable DCASE clip: 16 kHz 16-bit WAV (mono, or two microphones read through
`--channel`), complete, and not a copy of another."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

SAMPLE_RATE = 16_000
CHANNEL_OPTION = "--channel left|right|mean|stack (near = left, far = right)"


@dataclass(frozen=True)
class Problem:
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def check_wav(path: Path, channel: str = "") -> str | None:
    """Return why `path` is not a usable 16 kHz 16-bit WAV read with `channel` ("": mono only), or None when it is."""
    try:
        info = sf.info(str(path))
    except Exception as exc:  # libsndfile raises several types for unreadable files
        return f"unreadable WAV ({exc.__class__.__name__}: {str(exc).strip()[:80]})"
    if info.format not in ("WAV", "WAVEX"):  # WAVEX: the WAVE_FORMAT_EXTENSIBLE header sox and ffmpeg write
        return f"a {info.format} file, not a RIFF WAV (convert it: `sox in out.wav`)"
    if info.channels > 2:
        return (f"{info.channels} channels, expected mono; the DCASE release kept one microphone of each recording "
                "(MIMII's 8-channel array: channel 1), so take one: `sox in.wav out.wav remix 1`")
    if info.channels == 2 and not channel:
        return f"2 channels; pass {CHANNEL_OPTION} to read a two-microphone clip"
    if info.samplerate != SAMPLE_RATE:
        return f"sample rate {info.samplerate} Hz, expected {SAMPLE_RATE} Hz (resample it, e.g. `sox in.wav -r 16000 out.wav`)"
    if info.subtype != "PCM_16":
        return f"sample format {info.subtype}, expected 16-bit PCM as in DCASE (convert: `sox in.wav -b 16 out.wav`)"
    if info.frames == 0:
        return "empty WAV (no samples)"
    promised = _declared_data_end(path)
    if promised is not None and promised > path.stat().st_size:
        return f"truncated WAV (header promises {promised} bytes, file has {path.stat().st_size}); re-copy or re-download it"
    return None


def find_duplicates(paths) -> list[Problem]:
    """Clips whose bytes equal an earlier clip's: a copy would score a clip against itself or count it twice."""
    by_head: dict[bytes, list[Path]] = {}
    for path in map(Path, paths):
        with open(path, "rb") as f:  # 8 KiB of samples separates distinct recordings; full hashes confirm
            by_head.setdefault(f.read(8192), []).append(path)
    problems = []
    for group in (g for g in by_head.values() if len(g) > 1):
        seen: dict[str, Path] = {}
        for path in group:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest in seen:
                problems.append(Problem(path, f"same audio as {seen[digest]}; remove one of the copies"))
            else:
                seen[digest] = path
    return problems


def _declared_data_end(path: Path) -> int | None:
    """Where the RIFF header says the `data` chunk ends; libsndfile quietly reads a cut-off file."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(head):
        chunk, size = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
        if chunk == b"data":
            return pos + 8 + size
        pos += 8 + size + (size & 1)
    return None
