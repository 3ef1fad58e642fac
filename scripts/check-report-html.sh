#!/usr/bin/env bash
# Checks a run's report.html in a real browser (headless Chromium) against the report.json beside it.
#
#   scripts/check-report-html.sh RUN_DIR | RUN_DIR/report.html
#
# 1. Renders the page with chromium-headless-shell (`--dump-dom`, with a virtual-time budget so the page's own layout
#    script runs) and reads its verdict from <body data-layout-check>: every SVG text inside its viewBox, no two
#    texts overlapping, no table wider than the 1280 px window.
# 2. Takes a full-page screenshot next to the page (report.png) for a person to look at.
# 3. For every element marked data-metric="<address>" data-value="<raw>" [data-format="<fmt>"] [data-agg="sum"]:
#    the value at that address in report.json (`<path key>.<json path>`, or `$.<json path>` from the top) must equal
#    data-value, and the element's text must be that value formatted as <fmt>: the text the page's
#    <script type="application/json" id="display-format"> table gives for (<fmt>, value), a table written by
#    DisplayFormat (Sources/Report/DisplayFormat.swift), the one place the display rules live. Text (<fmt> "text")
#    is shown as is.
# 4. The page must fetch nothing: no src=/href= to http(s) or //, no @import, no url(http...).
#
# Exit codes: 0 all checks passed; 1 a check failed (each failure is printed); 2 bad input (no such file, no
# report.json beside the page). When no Chromium is installed the script prints "SKIP: ..." and exits 0, or exits 3
# when MESHBENCH_REQUIRE_BROWSER=1 (for CI, where a missing browser must not pass silently).
# The browser is found as $CHROMIUM, else chromium-headless-shell, chromium or chromium-browser on PATH.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 RUN_DIR | path/to/report.html" >&2
    exit 2
fi
target=$1
if [[ -d "$target" ]]; then
    html="$target/report.html"
else
    html="$target"
fi
if [[ ! -f "$html" ]]; then
    echo "check-report-html: no page at $html (give a run folder holding report.html, or the .html file)" >&2
    exit 2
fi
dir=$(cd "$(dirname "$html")" && pwd)
html="$dir/$(basename "$html")"
json="$dir/report.json"
if [[ ! -f "$json" ]]; then
    echo "check-report-html: no report.json beside $html; the page is checked against it" >&2
    exit 2
fi

browser=${CHROMIUM:-}
if [[ -z "$browser" ]]; then
    for b in chromium-headless-shell chromium chromium-browser; do
        if command -v "$b" >/dev/null 2>&1; then browser=$(command -v "$b"); break; fi
    done
fi
if [[ -z "$browser" ]]; then
    echo "SKIP: no headless Chromium (chromium-headless-shell, chromium or chromium-browser; or set CHROMIUM);" \
         "install the Debian package chromium-headless-shell to check report.html in a browser"
    if [[ "${MESHBENCH_REQUIRE_BROWSER:-0}" == 1 ]]; then exit 3; fi
    exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "check-report-html: python3 is needed to compare the page with report.json" >&2
    exit 2
fi

exec python3 - "$browser" "$html" "$json" <<'PY'
import html.parser, json, os, re, shutil, subprocess, sys, tempfile

browser, page, report_path = sys.argv[1:4]
png = os.path.splitext(page)[0] + ".png"
width = 1280
failures = []

def run_browser(args, profile):
    # Root needs --no-sandbox; the resolver rule makes any attempted fetch fail instead of reaching a network.
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--user-data-dir=" + profile, "--host-resolver-rules=MAP * ~NOTFOUND"] + args + ["file://" + page]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)

profile = tempfile.mkdtemp(prefix="meshbench-chromium-")
try:
    r = run_browser(["--virtual-time-budget=15000", "--window-size=%d,1000" % width, "--dump-dom"], profile)
    dom = r.stdout.decode("utf-8", "replace")
    if r.returncode != 0 or "<body" not in dom:
        print("FAIL: the browser did not render the page (exit %d): %s" % (r.returncode, r.stderr.decode()[-500:]))
        sys.exit(1)
    m = re.search(r'data-page-height="(\d+)"', dom)
    height = min(max(int(m.group(1)) if m else 4000, 600), 30000)
    r = run_browser(["--virtual-time-budget=15000", "--window-size=%d,%d" % (width, height), "--screenshot=" + png],
                    profile)
    if r.returncode != 0 or not os.path.exists(png):
        failures.append("no screenshot written (%s)" % r.stderr.decode()[-300:])
finally:
    shutil.rmtree(profile, ignore_errors=True)

# --- the DOM as a tree, for each marked element's text -----------------------------------------------------------
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []
    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

class TreeBuilder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [], None)
        self.cur = self.root
        self.marked = []
        self.body_attrs = {}
    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag == "body":
            self.body_attrs = n.attrs
        if "data-metric" in n.attrs:
            self.marked.append(n)
        if tag not in VOID:
            self.cur = n
    def handle_startendtag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if "data-metric" in n.attrs:
            self.marked.append(n)
    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent
    def handle_data(self, data):
        self.cur.children.append(data)

tree = TreeBuilder()
tree.feed(dom)
verdict = tree.body_attrs.get("data-layout-check")
if verdict != "ok":
    failures.append("layout: %s" % (verdict if verdict else "the page's layout script did not run"))

# --- addresses into report.json ----------------------------------------------------------------------------------
with open(report_path, encoding="utf-8") as f:
    report = json.load(f)

def path_key(p):
    return p["name"] + ("@" + p["point"] if p.get("point") else "")

keys = {path_key(p): p for p in report.get("paths", [])}

class Missing(Exception):
    pass

def walk(node, rest, address):
    # Segments are matched greedily against the keys present, so a key holding dots ("vip 127.0.0.1:8080") works.
    while rest:
        if isinstance(node, dict):
            best = None
            for k in node:
                if rest == k or rest.startswith(k + "."):
                    if best is None or len(k) > len(best):
                        best = k
            if best is None:
                raise Missing("%s: no key for '%s'" % (address, rest))
            node, rest = node[best], rest[len(best) + 1:]
        elif isinstance(node, list):
            head, _, rest = rest.partition(".")
            if not head.isdigit() or int(head) >= len(node):
                raise Missing("%s: no index %s" % (address, head))
            node = node[int(head)]
        else:
            raise Missing("%s: '%s' goes past a value" % (address, rest))
    return node

def resolve(address):
    if address.startswith("$."):
        return walk(report, address[2:], address)
    best = None
    for k in keys:
        if address.startswith(k + ".") and (best is None or len(k) > len(best)):
            best = k
    if best is None:
        raise Missing("%s: no path with that key" % address)
    return walk(keys[best], address[len(best) + 1:], address)

# --- the page's display-format table: {"<fmt>": {"<raw value>": "<text>"}}, written by DisplayFormat -------------
with open(page, encoding="utf-8") as f:
    source = f.read()
m = re.search(r'<script type="application/json" id="display-format">(.*?)</script>', source, re.S)
try:
    display = json.loads(m.group(1)) if m else None
except ValueError as e:
    display = None
    failures.append("the display-format table is not JSON: %s" % e)
if m is None:
    failures.append('the page has no <script type="application/json" id="display-format"> table')
display = display if isinstance(display, dict) else {}

def same(expected, raw):
    if isinstance(expected, bool) or expected is None:
        return False
    if isinstance(expected, (int, float)):
        try:
            got = float(raw)
        except ValueError:
            return False
        return got == expected or (isinstance(expected, int) and raw == str(expected))
    return str(expected) == raw

def norm(s):
    return " ".join(s.split())

checked = 0
for n in tree.marked:
    address, raw, fmt = n.attrs.get("data-metric"), n.attrs.get("data-value"), n.attrs.get("data-format")
    try:
        value = resolve(address)
    except Missing as e:
        failures.append("not in report.json: %s" % e)
        continue
    if n.attrs.get("data-agg") == "sum":
        if not isinstance(value, dict):
            failures.append("%s: data-agg=sum needs an object, found %r" % (address, value))
            continue
        value = sum(value.values())
    if isinstance(value, (dict, list)):
        failures.append("%s: names an object, not a value" % address)
        continue
    if raw is None or not same(value, raw):
        failures.append("%s: page says data-value=%r, report.json has %r" % (address, raw, value))
        continue
    if fmt is not None:
        if fmt == "text":
            expected = raw
        elif fmt not in display:
            failures.append("%s: data-format %r is not in the page's display-format table" % (address, fmt))
            continue
        elif raw not in display[fmt]:
            failures.append("%s: the display-format table has no %s text for %r" % (address, fmt, raw))
            continue
        else:
            # Looked up by data-value, which equals report.json's value (checked above).
            expected = display[fmt][raw]
        shown = norm(n.text())
        if shown != norm(expected):
            failures.append("%s: shows %r, report.json's %r formatted as %s is %r" % (address, shown, value, fmt, expected))
            continue
    checked += 1

# --- nothing fetched from outside --------------------------------------------------------------------------------
external = re.findall(r'''(?:\b(?:src|href|xlink:href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//[^"'\s>]*)|@import|url\(\s*["']?\s*(?:https?:)?//''',
                      source, re.I)
for e in external:
    failures.append("external reference: %s" % e[:120])
if re.search(r"<(?:link|iframe|object|embed|img)\b", source, re.I):
    failures.append("the page has a <link>, <iframe>, <object>, <embed> or <img> element; it must be self-contained")

marked = len(tree.marked)
print("report.html check: %s" % page)
print("  browser: %s" % browser)
print("  layout: %s" % (verdict or "not run"))
print("  numbers: %d of %d marked values match report.json and their formats" % (checked, marked))
print("  screenshot: %s" % png)
if marked == 0:
    failures.append("the page marks no values (data-metric); nothing was compared")
if failures:
    for f in failures[:200]:
        print("FAIL: " + f)
    if len(failures) > 200:
        print("FAIL: ... and %d more" % (len(failures) - 200))
    sys.exit(1)
print("OK")
PY
