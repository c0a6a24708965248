"""Render static/favicon.svg into the raster icons the pages link to: static/icon-512.png (the
Open Graph / WeChat share image and apple-touch-icon) and static/favicon.ico (16, 32, 48 px).

    .venv/bin/python tools/make_icons.py     # needs Playwright and chromium (as the browser tests)

The SVG is drawn by chromium and scaled by Pillow; run it again after changing the SVG."""
from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

STATIC = Path(__file__).resolve().parent.parent / "static"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def main() -> None:
    svg = (STATIC / "favicon.svg").read_text(encoding="utf-8")
    html = ("<html><body style='margin:0;background:transparent;overflow:hidden'>"
            + svg.replace('width="64" height="64"', 'width="512" height="512" style="display:block"', 1)
            + "</body></html>")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 512, "height": 512})
        page.set_content(html)
        png = page.locator("svg").screenshot(omit_background=True)
        browser.close()
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    # the share image has no transparency (some apps show transparent pixels as black)
    flat = Image.new("RGB", image.size, "white")
    flat.paste(image, mask=image.getchannel("A"))
    flat.save(STATIC / "icon-512.png", optimize=True)
    image.save(STATIC / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48)])
    print(f"wrote {STATIC / 'icon-512.png'} {image.size} and {STATIC / 'favicon.ico'}")


if __name__ == "__main__":
    main()
