"""Loads prpulse-api's page in headless Chromium (Chrome DevTools
Protocol over a websocket), signs in with a token, reads the numbers the
summary table and the charts show, compares them with the API's answer,
checks that phone width needs no sideways scrolling, and saves
screenshots at 1280 px and at phone width.

Usage: page.py CHROMIUM API_URL TOKEN QUERY OUT_DIR
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # websocket-client


def fail(message):
    print(f"check-page: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


class Browser:
    def __init__(self, chromium):
        self.profile = tempfile.mkdtemp(prefix="prpulse-chromium-")
        self.process = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--remote-debugging-port=0",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if time.time() > deadline or self.process.poll() is not None:
                fail("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = open(port_file).read().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    fail(f"{method}: {message['error']}")
                return message.get("result", {})

    def wait_for_load(self):
        while True:
            message = json.loads(self.ws.recv())
            if message.get("method") == "Page.loadEventFired":
                return

    def navigate(self, url):
        self.call("Page.navigate", url=url)
        self.wait_for_load()

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            fail(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path, width, height, mobile):
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=mobile)
        self.evaluate("document.body.offsetHeight")
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(path, "wb") as out:
            out.write(base64.b64decode(shot["data"]))

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def api(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(request))


def main():
    chromium, base, token, query, out_dir = sys.argv[1:6]
    os.makedirs(out_dir, exist_ok=True)
    browser = Browser(chromium)
    try:
        browser.navigate(base + "/")
        if not browser.evaluate("!!document.getElementById('token')"):
            fail("the page at / shows no sign-in form")
        browser.evaluate(f"document.getElementById('token').value = {json.dumps(token)};"
                         "document.querySelector('form').submit()")
        browser.wait_for_load()
        browser.navigate(f"{base}/?{query}")
        if browser.evaluate("!!document.getElementById('token')"):
            fail("signing in with the token did not work")
        shown = browser.evaluate(
            "[...document.querySelectorAll('#summary td[data-field]')]"
            ".map(td => [td.dataset.key, td.dataset.field, td.dataset.value, td.textContent])")
        points = browser.evaluate(
            "[...document.querySelectorAll('svg.chart circle')]"
            ".map(c => [c.closest('svg').dataset.span, c.dataset.series, c.dataset.bucket, c.dataset.value])")
        summary = api(f"{base}/api/v1/summary?{query}", token)
        weekly = api(f"{base}/api/v1/summary?{query.replace('group_by=team', 'group_by=none')}&bucket=week", token)

        if not shown:
            fail("the summary table shows no numbers")
        groups = {g["key"]: g for g in summary["groups"]}
        checked = 0
        for key, field, value, text in shown:
            name, _, statistic = field.partition(".")
            expected = groups[key][name] if not statistic else groups[key][name][statistic]
            if value == "":
                if expected is not None:
                    fail(f"{key} {field}: the page shows nothing, the API {expected}")
            elif expected is None or abs(float(value) - float(expected)) > 1e-6:
                fail(f"{key} {field}: the page shows {value} ({text}), the API {expected}")
            checked += 1
        weeks = {(g["bucket"]): g for g in weekly["groups"]}
        for span, series, bucket, value in points:
            expected = weeks[bucket][span][series]
            if expected is None or abs(float(value) - float(expected)) > 1e-6:
                fail(f"chart {span} {series} {bucket}: the page shows {value}, the API {expected}")
            checked += 1
        if not points:
            fail("the charts show no points")

        wide = os.path.join(out_dir, "page-1280.png")
        browser.screenshot(wide, 1280, 900, False)
        phone = os.path.join(out_dir, "page-phone.png")
        browser.screenshot(phone, 390, 844, True)
        overflow = browser.evaluate("document.documentElement.scrollWidth")
        if overflow > 391:
            fail(f"at phone width the page is {overflow} px wide: it scrolls sideways")
        print(f"check-page: {checked} numbers on the page equal the API's "
              f"({len(shown)} table cells, {len(points)} chart points); "
              f"screenshots: {wide}, {phone}")
    finally:
        browser.close()


if __name__ == "__main__":
    main()
