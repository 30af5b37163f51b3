#!/usr/bin/env bash
# bench_suite_report_chromium: the HTML report of `strait bench` (docs/bench.md §6) as a browser sees it. Renders the
# sample reports (bench_report_sample), loads each in headless Chromium (--dump-dom) and checks the DOM Chromium
# built: each plot's <svg> is there with non-empty path data, no <script> or <img> came out of the hostile text, the
# hostile text is shown as text, and the console reported nothing (a blocked resource or a CSP refusal would).
# Skips (77) when Chromium is not installed: scripts/setup.sh installs it.
# Usage: report_chromium_test.sh BENCH_REPORT_SAMPLE
set -euo pipefail
sample=$1
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $browser ]]; then
  echo "SKIP: chromium is not installed (scripts/setup.sh installs it for this test)"
  exit 77
fi
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$sample" "$dir"

status=0
# page:number of plots
for page in logins:2 idle:2; do
  name=${page%%:*}
  plots=${page##*:}
  if ! timeout 120 "$browser" --headless=new --disable-gpu --no-sandbox --no-first-run --user-data-dir="$dir/profile" \
      --enable-logging=stderr --v=0 --dump-dom "file://$dir/$name.html" >"$dir/$name.dom" 2>"$dir/$name.err"; then
    echo "FAIL $name: chromium exited with an error"; tail -20 "$dir/$name.err"; status=1; continue
  fi
  if grep -E "CONSOLE|Refused to|Failed to load" "$dir/$name.err"; then
    echo "FAIL $name: the page logged to the console"; status=1
  fi
  python3 - "$dir/$name.dom" "$plots" <<'PY' || status=1
import sys
from html.parser import HTMLParser

dom_file, want_plots = sys.argv[1], int(sys.argv[2])
hostile = "</td></table><script>document.title='pwned'</script>"

class Dom(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.svgs = []      # per <svg>: the d attributes of its paths
        self.in_svg = 0
        self.tags = set()
        self.text = []
        self.title = ""
        self.in_title = False
    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "svg":
            self.svgs.append([])
            self.in_svg += 1
        elif tag == "path" and self.in_svg:
            self.svgs[-1].append(dict(attrs).get("d") or "")
        elif tag == "title" and not self.in_svg:
            self.in_title = True
    def handle_endtag(self, tag):
        if tag == "svg":
            self.in_svg -= 1
        elif tag == "title":
            self.in_title = False
    def handle_data(self, data):
        self.text.append(data)
        if self.in_title:
            self.title += data

dom = Dom()
dom.feed(open(dom_file, encoding="utf-8").read())
errors = []
if "body" not in dom.tags or "table" not in dom.tags:
    errors.append("no body or table in the DOM (the page did not load?)")
if len(dom.svgs) != want_plots:
    errors.append(f"{len(dom.svgs)} <svg> elements, want {want_plots}")
for i, paths in enumerate(dom.svgs):
    if not paths:
        errors.append(f"svg {i} has no <path>")
    elif any(len(d.strip()) < 4 for d in paths):
        errors.append(f"svg {i} has a path with empty d: {paths}")
for tag in ("script", "img", "iframe", "object", "embed", "link"):
    if tag in dom.tags:
        errors.append(f"a <{tag}> element is in the DOM")
if "pwned" in dom.title:
    errors.append("the hostile script ran")
if dom_file.endswith("logins.dom") and hostile not in "".join(dom.text):
    errors.append("the hostile parameter is not shown as text")
name = dom_file.rsplit("/", 1)[-1]
for e in errors:
    print(f"FAIL {name}: {e}")
if errors:
    sys.exit(1)
print(f"ok {name}: {len(dom.svgs)} plots, " + ", ".join(str(len(p)) + " paths" for p in dom.svgs))
PY
done
exit $status
