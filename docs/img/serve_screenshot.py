"""Take docs/img/serve-chain.png: a checked derivation on derivcheck serve's slot page.

    python docs/img/serve_screenshot.py      (needs the serve extra, playwright and Chromium)
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

STEPS = [r"f(t) = -\inf_\alpha \left[t(1-\alpha)^2 + (1+\alpha)^2\right]",
         r"= -\left[t\left(\frac{2}{t+1}\right)^2 + \left(\frac{2t}{t+1}\right)^2\right]",
         r"= -\frac{4t}{(t+1)^2}",
         r"= -\frac{4t}{t+1}"]
OUT = Path(__file__).resolve().parent / "serve-chain.png"


def main() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "derivations.cli", "serve", "--port", str(port), "--jobs", "1"])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):
            try:
                urllib.request.urlopen(url + "/api/stats", timeout=2).close()
                break
            except OSError:
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 980, "height": 900}, device_scale_factor=1)
            page.goto(url + "/slot/gan.square.f")
            page.fill("#chain-input", "\n".join(STEPS))
            page.click("#chain-check")
            page.wait_for_selector("#chain-result li.first-invalid", timeout=120_000)
            page.locator("section.panel").nth(1).screenshot(path=str(OUT))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(OUT)


if __name__ == "__main__":
    main()
