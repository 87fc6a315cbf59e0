#!/usr/bin/env bash
# Detection benchmark (release build, not part of CI): per-request cost with 10, 100, 1,000
# rules and PCRE2 against Swift Regex. Prints ratios measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/detection"
swift build -c release >&2
"$(swift build -c release --show-bin-path)/DetectionBench" ../..
