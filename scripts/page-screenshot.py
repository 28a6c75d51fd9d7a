"""Screenshot an HTML leaderboard page in Debian's chromium (offline: any request off file:/data:/blob: fails).

    .venv/bin/python scripts/page-screenshot.py leaderboard/LEADERBOARD.html leaderboard/screenshot.png [--full]
"""
import argparse
import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page", type=Path)
    ap.add_argument("png", type=Path)
    ap.add_argument("--full", action="store_true", help="the whole page, not the first screen")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=900)
    args = ap.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("page-screenshot: no chromium on PATH; run `make browser` (scripts/browser-up.sh) first")
    if not args.page.is_file():
        sys.exit(f"page-screenshot: {args.page}: no such page; run `make run` or `bench leaderboard` first")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.route("**/*", lambda r: r.continue_() if r.request.url.split(":", 1)[0] in ("file", "data", "blob")
                   else r.abort())
        page.goto(args.page.resolve().as_uri())
        page.wait_for_selector("body[data-ready]", timeout=30_000)
        args.png.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.png), full_page=args.full)
        browser.close()
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
