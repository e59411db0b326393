"""The web console in a real browser: Debian's headless Chromium, driven by selenium through chromium-driver,
against a real control plane with real containers, Redis and async workers (scripts/test installs both).

Each page is photographed at 1280x800 and at a phone's width into var/test-artifacts/console/ (or
$FAAS_TEST_ARTIFACTS)."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pytest
import requests

from helpers import code_b64, make_zip, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis, pytest.mark.slow,
              # Chromium aborts a request in flight when an address of the host changes (ERR_NETWORK_CHANGED), as
              # other tests' Docker networks and namespaces come and go: such a test runs once more. A failure for
              # any other reason is not run again (the assertions name the browser's log, where that code appears).
              pytest.mark.flaky(reruns=1, only_rerun=["ERR_NETWORK_CHANGED"])]

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("FAAS_TEST_ARTIFACTS") or ROOT / "var" / "test-artifacts") / "console"
DESKTOP = {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False}
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'

CODE = """import json


def handler(event, context):
    data = json.loads(event or b"{}")
    print("console-marker", data.get("name"))
    return json.dumps({"greeting": "hi " + str(data.get("name"))})
"""


def _binary(name: str) -> str:
    path = shutil.which(name) or f"/usr/bin/{name}"
    if not os.path.exists(path):
        pytest.fail(f"{name} is not installed; run the tests with scripts/test (it installs chromium and "
                    "chromium-driver)")
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = _binary("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium')}", "--window-size=1280,800"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(_binary("chromedriver")), options=options)
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


class Console:
    """The console at one platform, in one browser."""

    def __init__(self, driver, plat):
        self.d = driver
        self.plat = plat
        self.base = plat.url + "/console/"
        self._log: list[dict] = []

    def size(self, metrics: dict) -> None:
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)

    def wait(self, condition, timeout: float = 60):
        return WebDriverWait(self.d, timeout, poll_frequency=0.1).until(condition)

    def find(self, css: str, timeout: float = 60):
        return self._until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)), timeout, css, "visible")

    def click(self, css: str, timeout: float = 60):
        element = self._until(EC.element_to_be_clickable((By.CSS_SELECTOR, css)), timeout, css, "clickable")
        element.click()
        return element

    def text_in(self, css: str, text: str, timeout: float = 60):
        self._until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text), timeout, css, f"showing {text!r}")
        return self.d.find_element(By.CSS_SELECTOR, css)

    def _until(self, condition, timeout: float, css: str, what: str):
        """wait(condition); past `timeout`, an AssertionError that tells what the page and the browser's log show
        (where a request Chromium aborted says ERR_NETWORK_CHANGED, which the module's rerun marker looks for)."""
        try:
            return self.wait(condition, timeout)
        except TimeoutException:
            shown = self.d.find_elements(By.CSS_SELECTOR, css)
            page = self.d.find_elements(By.CSS_SELECTOR, "#main")  # (an error box, another page, ...)
            raise AssertionError(f"{css} never became {what}; it shows "
                                 f"{shown[0].text[:2000] if shown else '(nothing)'!r}; the address is "
                                 f"{self.d.current_url!r}, the page shows "
                                 f"{page[0].text[:2000] if page else '(nothing)'!r} and the browser "
                                 f"logged {self.logged()[-20:]}") from None

    def go(self, route: str) -> None:
        self.d.get(self.base + "#" + route)

    def type_into(self, css: str, text: str) -> None:
        element = self.find(css)
        element.clear()
        element.send_keys(text)

    def login(self, secret: str) -> None:
        self.d.get(self.base)
        self.type_into("#token", secret)
        self.click("#login")

    def shot(self, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        self.d.save_screenshot(str(path))
        return path

    def shots(self, name: str) -> None:
        """The page now at 1280x800 and at a phone's width, which must need no sideways scrolling."""
        self.size(DESKTOP)
        self.shot(name)
        self.size(PHONE)
        try:  # laid out at the phone's width (charts redraw on resize) and fitting it
            self.wait(lambda d: d.execute_script(f"return window.innerWidth === {PHONE['width']}")
                      and self._overflow() <= 1, timeout=30)
        except TimeoutException:
            raise AssertionError(f"{name}: the page is {self._overflow()}px wider than a phone's screen") from None
        finally:
            self.shot(name + "-phone")
            self.size(DESKTOP)

    def _overflow(self) -> int:
        return self.d.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")

    def logged(self) -> list[dict]:
        """Everything the browser logged since the test began (reading its log empties it)."""
        self._log.extend(self.d.get_log("browser"))
        return self._log

    def errors(self) -> list[str]:
        """The browser's own errors (scripts, CSP), leaving out the failed API calls a test provoked."""
        return [e["message"] for e in self.logged()
                if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]


@pytest.fixture
def console(browser, async_stack):
    plat, _workers = async_stack
    c = Console(browser, plat)
    browser.get(plat.url + "/console/")
    browser.execute_script("sessionStorage.clear()")
    c.size(DESKTOP)
    c.logged().clear()  # (what the page logged before this test)
    yield c
    assert not c.errors()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_a_wrong_token_shows_the_401_and_is_not_kept(console):
    console.login("faas_admin_not-a-real-token")
    shown = console.text_in(".error", "401").text
    assert shown == "401 Unauthorized: the bearer token is not valid"
    assert console.d.execute_script("return sessionStorage.length") == 0
    assert "not-a-real-token" not in console.d.current_url
    assert console.d.get_cookies() == []
    console.shots("login-401")


def test_an_invoke_token_is_refused_with_the_platforms_message(console):
    made = console.plat.api.request("POST", "/v1/tokens", json={"role": "invoke", "name": "console-test"})
    assert made.status_code == 201
    console.login(made.json()["token"])
    shown = console.text_in(".error", "403").text
    assert shown.startswith("403 Forbidden: a token of role invoke may not do this")
    assert console.d.execute_script("return sessionStorage.length") == 0


def test_the_token_lives_in_session_storage_only(console):
    secret = console.plat.api.token
    console.login(secret)
    console.find("#new-function")
    assert console.d.execute_script("return sessionStorage.getItem('faas.console.token')") == secret
    assert console.d.execute_script("return localStorage.length") == 0
    assert console.d.get_cookies() == []
    assert secret not in console.d.current_url
    console.click("#logout")
    console.find("#token")
    assert console.d.execute_script("return sessionStorage.getItem('faas.console.token')") is None


def test_create_invoke_publish_alias_trigger_and_delete(console):
    """The whole round: everything a user does in a function's life, through the console alone."""
    api, name = console.plat.api, unique("web")
    console.login(api.token)
    console.find("#new-function")
    console.shots("functions")

    # Create from the inline editor.
    console.click("#new-function")
    console.type_into("#fn-name", name)
    editor = console.find("#create-code")
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(Keys.DELETE)
    editor.send_keys(CODE)
    console.shots("create")
    console.click("#create")
    console.wait(EC.url_contains(f"#/functions/{name}"), timeout=180)
    assert api.request("GET", f"/v1/functions/{name}").json()["state"] == "Active"
    console.text_in("main", "Code SHA-256")
    console.shots("function-overview")

    # Invoke it: the result, the headers and the log's tail.
    console.click("#tab-invoke")
    console.type_into("#inv-payload", json.dumps({"name": "browser"}))
    console.click("#invoke")
    assert json.loads(console.text_in("#inv-result", "greeting", timeout=120).text) == {"greeting": "hi browser"}
    console.text_in("#inv-log", "console-marker browser")
    console.text_in("#inv-out", "x-fc-request-id")
    console.shots("function-invoke")

    # Publish a version and give it an alias.
    console.click("#tab-versions")
    console.type_into("#version-description", "first release")
    console.click("#publish")
    console.text_in("#banner", "Published version 1")
    console.type_into("#alias-name", "prod")
    Select(console.find("#alias-version")).select_by_value("1")
    console.click("#set-alias")
    console.text_in("#banner", "Alias prod → version 1")
    alias = api.request("GET", f"/v1/functions/{name}/aliases/prod").json()
    assert alias["versionId"] == "1"
    console.text_in("main", "100 % → 1")
    console.click("#publish")  # nothing changed since version 1: the API's 409, as it sent it
    assert console.text_in("main .error", "409").text.startswith("409 NothingToPublish:")

    # A second version, and the alias split between the two.
    assert api.update(name, description="second").status_code == 200
    console.d.refresh()
    console.click("#publish")
    console.text_in("#banner", "Published version 2")
    console.type_into("#alias-name", "prod")
    Select(console.find("#alias-version")).select_by_value("2")
    Select(console.find("#alias-extra")).select_by_value("1")
    console.type_into("#alias-weight", "0.2")
    console.click("#set-alias")
    console.text_in("#banner", "Alias prod → version 2")
    alias = api.request("GET", f"/v1/functions/{name}/aliases/prod").json()
    assert (alias["versionId"], alias["additionalVersionWeight"]) == ("2", {"1": 0.2})
    console.text_in("main", "80 % → 2, 20 % → 1")
    console.shots("function-versions")

    # An HTTP trigger, which then answers.
    console.click("#tab-triggers")
    Select(console.find("#trigger-type")).select_by_value("http")
    console.type_into("#trigger-name", "web")
    Select(console.find("#http-auth")).select_by_value("anonymous")
    console.click("#add-trigger")
    console.text_in("main table", f"/function/{name}")
    through = requests.post(f"{console.plat.url}/function/{name}", data=json.dumps({"name": "trigger"}), timeout=60)
    assert through.status_code == 200 and "greeting" in through.text  # an HTTP trigger's event is FC's HTTP event
    console.shots("function-triggers")

    # Its containers, with how they started.
    console.click("#tab-instances")
    row = console.text_in("main table", "Idle", timeout=60).text
    assert "cell" in row or "image" in row
    decisions = console.text_in("main", "Keep-alive decisions").text  # each version's, under its containers
    assert "LATEST adaptive" in decisions
    console.shots("function-instances")

    # The list shows its invocations of the last hour.
    console.go("/functions")
    row = console.text_in("main table", name).text
    assert "r2 · v2" in row
    assert "just now" in row or "s ago" in row

    # Delete: Cancel keeps it; the name typed and confirmed removes it.
    console.click(f"button[aria-label='Delete {name}']")
    console.find("#confirm-typed")
    assert not console.find("#confirm-ok").is_enabled()
    console.shots("delete-confirm")
    console.click("#confirm-cancel")
    assert api.request("GET", f"/v1/functions/{name}").status_code == 200
    console.wait(lambda d: not d.find_element(By.ID, "confirm").is_displayed())  # the dialog closed
    console.click(f"button[aria-label='Delete {name}']")
    console.type_into("#confirm-typed", name)
    console.click("#confirm-ok")
    console.text_in("#banner", f"Deleted {name}")
    assert api.request("GET", f"/v1/functions/{name}").status_code == 404
    console.wait(lambda d: name not in d.find_element(By.TAG_NAME, "main").text)


def test_logs_follow_live_and_filter_by_request_id(console):
    api, name = console.plat.api, unique("logs")
    longest = (unique("long") + "-" * 63)[:62] + "z"  # its name in the picker must not widen a phone's page
    api.deploy(name, {"index.py": CODE})
    api.deploy(longest, {"index.py": CODE})
    console.login(api.token)
    console.find("#new-function")
    console.go(f"/logs/{name}")
    console.text_in("#logs-out", "(no lines yet)")
    first = api.invoke(name, json.dumps({"name": "one"}))
    second = api.invoke(name, json.dumps({"name": "two"}))
    assert first.status_code == second.status_code == 200
    console.text_in("#logs-out", "console-marker two")  # arrived while the page followed
    rid = first.headers["X-Fc-Request-Id"]
    console.type_into("#logs-filter", rid)
    console.wait(lambda d: "console-marker two" not in (t := d.find_element(By.ID, "logs-out").text)
                 and "console-marker one" in t)
    shown = console.find("#logs-out").text
    assert "console-marker one" in shown and all(line.startswith(rid) for line in shown.splitlines())
    console.shots("logs")
    api.delete(name)
    api.delete(longest)


def test_async_records_and_destination_queue(console):
    api, name = console.plat.api, unique("later")
    queue = unique("done")
    api.deploy(name, {"index.py": CODE}, **{"async": {"onSuccess": f"queue:{queue}"}})
    accepted = api.invoke(name, json.dumps({"name": "async"}), headers={"X-Fc-Invocation-Type": "Async"})
    assert accepted.status_code == 202
    rid = accepted.json()["requestId"]
    wait_for(lambda: api.request("GET", f"/v1/invocations/{rid}").json()["status"] == "succeeded", timeout=120)
    console.login(api.token)
    console.find("#new-function")
    console.go(f"/functions/{name}/invoke")  # the Invoke panel, async: followed until the event ends
    Select(console.find("#inv-type")).select_by_value("Async")
    console.type_into("#inv-payload", json.dumps({"name": "panel"}))
    console.click("#invoke")
    panel_rid = console.find("#inv-request").text
    console.text_in("#inv-async", "succeeded", timeout=120)
    console.text_in("#inv-async .async-result", "hi panel")
    assert api.request("GET", f"/v1/invocations/{panel_rid}").json()["status"] == "succeeded"
    console.go(f"/async/{name}")
    console.text_in("#async-list", panel_rid)
    console.text_in("#async-list", rid)
    console.text_in("#async-list", "succeeded")
    Select(console.find("#async-status")).select_by_value("failed")
    console.text_in("#async-list", "No async invocations")
    Select(console.find("#async-status")).select_by_value("succeeded")
    # (the list draws itself again every few seconds while records change: wait for the button, then click)
    console.wait(EC.element_to_be_clickable((By.XPATH, f"//*[@id='async-list']//button[text()='{rid}']"))).click()
    console.text_in("#async-detail", f"queue:{queue}")
    console.text_in("#async-detail .async-result", "hi async")
    console.wait(lambda d: d.find_element(By.ID, "queue-read").get_attribute("value") == queue)
    console.click("#read-queue")
    console.text_in("#queue-messages", rid)
    console.shots("async")
    api.delete(name)


def test_metrics_draw_points_from_samples(console):
    api, name = console.plat.api, unique("busy")
    api.deploy(name, {"index.py": CODE})
    console.login(api.token)
    console.find("#new-function")
    console.go("/metrics")
    console.find("#chart-invocations canvas")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # invocations between two samples make a rate, and a duration
        assert api.invoke(name, "{}").status_code == 200
        if int(console.find("#chart-duration").get_attribute("data-points")) >= 1 and \
                int(console.find("#chart-invocations").get_attribute("data-points")) >= 1:
            break
        time.sleep(0.2)
    for chart in ("invocations", "duration", "cold", "containers", "backlog"):
        assert int(console.find(f"#chart-{chart}").get_attribute("data-points")) >= 1, chart
    console.text_in("#now-invocations", "success")
    console.shots("metrics")
    api.delete(name)


def test_output_of_functions_is_shown_as_text_never_run(console):
    """A function's result and log lines carrying markup appear as characters; no script of theirs runs."""
    api, name = console.plat.api, unique("evil")
    api.deploy(name, {"index.py": f"def handler(event, context):\n    print({HOSTILE!r})\n    return {HOSTILE!r}\n"})
    console.login(api.token)
    console.find("#new-function")
    console.go(f"/functions/{name}/invoke")
    console.click("#invoke")
    assert console.text_in("#inv-result", "onerror", timeout=120).text == HOSTILE
    console.text_in("#inv-log", HOSTILE)
    console.go(f"/logs/{name}")
    console.text_in("#logs-out", "onerror")
    # An image of the same src asked for now fails after any the output made: once its onerror ran, theirs had.
    console.d.execute_script("const i = new Image(); i.onerror = () => { window.__control = 1; }; i.src = 'x';")
    console.wait(lambda d: d.execute_script("return window.__control === 1"))
    assert console.d.execute_script("return window.__pwned === undefined")
    assert not console.d.find_elements(By.CSS_SELECTOR, "main img, main script")
    api.delete(name)


def test_api_errors_are_shown_as_the_platform_sent_them(console):
    api = console.plat.api
    name = unique("dup")
    api.deploy(name, {"index.py": CODE})
    console.login(api.token)
    console.click("#new-function")
    console.type_into("#fn-name", name)
    console.click("#create")
    assert console.text_in("main .error", "409").text == \
        f"409 FunctionAlreadyExists: function {name} already exists"
    console.go("/functions/no-such-function")
    assert console.text_in("main .error", "404").text.startswith("404 FunctionNotFound:")
    broken = unique("broken")
    console.go("/new")
    console.type_into("#fn-name", broken)
    console.type_into("#cfg-memory", "3")
    console.click("#create")
    assert console.text_in("main .error", "400").text.startswith("400 InvalidArgument: memoryMB")
    api.delete(name)


def test_usable_with_the_keyboard_alone(console):
    """Log in, reach a page, indent in the editor, leave it, and cancel a deletion: keys only."""
    api, name = console.plat.api, unique("keys")
    api.deploy(name, {"index.py": CODE})
    d = console.d
    d.get(console.base)
    token = console.find("#token")
    console.wait(lambda d: d.switch_to.active_element == token)  # the page puts the focus there
    token.send_keys(api.token, Keys.ENTER)
    console.find("#new-function")
    # a new page puts the focus at its top
    console.wait(lambda d: d.switch_to.active_element.get_attribute("id") == "main")
    d.get(console.base)  # loaded anew (still logged in): the first Tab reaches the link that skips the menu
    console.find("#new-function")
    ActionChains(d).send_keys(Keys.TAB).perform()
    assert d.switch_to.active_element.get_attribute("class") == "skip"
    for _ in range(40):  # Tab onwards until the link to create a function has the focus
        ActionChains(d).send_keys(Keys.TAB).perform()
        if d.switch_to.active_element.get_attribute("id") == "new-function":
            break
    assert d.switch_to.active_element.get_attribute("id") == "new-function"
    d.switch_to.active_element.send_keys(Keys.ENTER)
    field = console.find("#fn-name")
    console.wait(lambda d: d.switch_to.active_element == field)
    code = console.find("#create-code")
    code.click()
    code.send_keys(Keys.CONTROL, "a")
    code.send_keys("x", Keys.TAB, "y")
    assert code.get_attribute("value") == "x    y"  # Tab indents inside the editor
    code.send_keys(Keys.ESCAPE, Keys.TAB)
    assert d.switch_to.active_element != code  # Esc, then Tab, leaves it
    console.go("/functions")
    delete = console.find(f"button[aria-label='Delete {name}']")
    delete.send_keys(Keys.ENTER)
    typed = console.find("#confirm-typed")
    console.wait(lambda d: d.switch_to.active_element == typed)
    typed.send_keys(Keys.ESCAPE)
    console.wait(lambda drv: not drv.find_element(By.ID, "confirm").is_displayed())
    assert api.request("GET", f"/v1/functions/{name}").status_code == 200
    api.delete(name)


def test_new_code_from_a_zip_and_a_timers_next_firing(console, tmp_path):
    api, name = console.plat.api, unique("zip")
    api.deploy(name, {"index.py": CODE})
    archive = tmp_path / "code.zip"
    archive.write_bytes(make_zip({"index.py": "def handler(event, context):\n    return 'from the zip'\n"}))
    console.login(api.token)
    console.find("#new-function")
    console.go(f"/functions/{name}/overview")
    console.find("input[name='update-source'][value='zip']").click()
    console.find("#update-zip").send_keys(str(archive))
    console.type_into("#cfg-description", "uploaded")
    console.click("#save")
    console.text_in("main .notice", "Saved: revision 2", timeout=180)
    record = api.request("GET", f"/v1/functions/{name}").json()
    assert (record["revision"], record["description"]) == (2, "uploaded")
    assert api.invoke(name).text == "from the zip"

    console.go(f"/functions/{name}/triggers")
    Select(console.find("#trigger-type")).select_by_value("timer")
    console.type_into("#trigger-name", "hourly")
    console.type_into("#timer-cron", "0 0 * * * *")
    console.click("#add-trigger")
    shown = console.find("main table .next-firing").get_attribute("datetime")
    assert shown == api.request("GET", f"/v1/functions/{name}/triggers/hourly").json()["nextFiring"]
    assert shown.endswith(":00:00Z")
    console.shots("function-timer")
    console.click("button[aria-label='Delete trigger hourly']")  # Cancel keeps it; Delete removes it
    console.click("#confirm-cancel")
    assert api.request("GET", f"/v1/functions/{name}/triggers/hourly").status_code == 200
    console.click("button[aria-label='Delete trigger hourly']")
    console.click("#confirm-ok")
    console.text_in("main", "No triggers yet")
    assert api.request("GET", f"/v1/functions/{name}/triggers/hourly").status_code == 404
    api.delete(name)


def test_a_keep_alive_bound_is_set_and_cleared_from_the_form(console):
    api, name = console.plat.api, unique("keepalive")
    api.deploy(name, {"index.py": CODE}, keepAliveSeconds=120)
    console.login(api.token)
    console.find("#new-function")
    console.go(f"/functions/{name}/overview")
    assert console.find("#cfg-keepalive").get_attribute("value") == "120"
    console.find("#cfg-keepalive").clear()  # emptied: the adaptive policy's own window again
    console.click("#save")
    console.text_in("main .notice", "Saved: revision 2", timeout=180)
    record = api.request("GET", f"/v1/functions/{name}").json()
    assert record["keepAliveSeconds"] is None and record["keepAlivePolicy"] == "adaptive"
    console.go(f"/functions/{name}/invoke")
    console.go(f"/functions/{name}/overview")
    assert console.find("#cfg-keepalive").get_attribute("value") == ""
    console.type_into("#cfg-keepalive", "45")
    console.click("#save")
    console.text_in("main .notice", "Saved: revision 3", timeout=180)
    assert api.request("GET", f"/v1/functions/{name}").json()["keepAliveSeconds"] == 45
    api.delete(name)


def test_layers_are_set_and_shown_on_the_function_page(console):
    api, name = console.plat.api, unique("layered")
    layer = api.request("POST", f"/v1/layers/{name}/versions", json={
        "code": {"zipFile": code_b64({"python/word.py": "WORD = 'layered'\n"})}, "compatibleRuntimes": ["python3.11"]})
    assert layer.status_code == 201, layer.text
    api.deploy(name, {"index.py": "def handler(event, context):\n    import word\n    return word.WORD\n"})
    console.login(api.token)
    console.find("#new-function")
    console.go(f"/functions/{name}/overview")
    console.type_into("#cfg-layers", name)  # its name alone: the newest version
    console.click("#save")
    console.text_in("main .notice", "Saved: revision 2", timeout=180)
    assert api.request("GET", f"/v1/functions/{name}").json()["layers"] == [f"{name}:1"]
    console.go(f"/functions/{name}/invoke")
    console.go(f"/functions/{name}/overview")
    assert console.text_in("#fn-layers", f"{name}:1").text == f"{name}:1"
    console.shots("function-layers")
    assert api.invoke(name).text == "layered"
    api.delete(name)
    assert api.request("DELETE", f"/v1/layers/{name}/versions/1").status_code == 204


@pytest.mark.parametrize("route", [
    "/functions/<img src=x onerror=window.__pwned=1>", "/functions/%3Cscript%3Ewindow.__pwned%3D1%3C%2Fscript%3E",
    "/functions/..%2F..%2Fv1%2Ftokens", "/functions/../../v1/tokens", "/logs/..%2Ftokens", "/async/%0a",
    "/functions/x%0a/invoke", "/functions/" + "a" * 5000, "/functions/%E0%A4%A", "/nowhere",
])
def test_forged_routes_show_an_error_and_run_nothing(console, route):
    """A link a stranger made: whatever its fragment holds, the console asks the API with it encoded, shows
    the API's answer as text, and runs nothing of it."""
    console.login(console.plat.api.token)
    console.find("#new-function")
    console.go(route)
    if route in ("/nowhere", "/functions/../../v1/tokens"):  # no such page: the list of functions
        console.find("#new-function")
    else:
        console.find("main .error")
    assert console.plat.api.token not in console.find("main").text
    assert console.d.execute_script("return window.__pwned === undefined")
    assert not console.d.find_elements(By.CSS_SELECTOR, "main img, main script")
