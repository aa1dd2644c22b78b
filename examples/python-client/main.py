"""Scores a CSV of items: the blueprint's `python main.py <input> <output>` shape, standard library only.

Usage: python3 main.py INPUT_PATH OUTPUT_DIR

INPUT_PATH is a CSV with a header row `item,value`; OUTPUT_DIR is an empty directory. Writes
OUTPUT_DIR/scored.csv (each row with its score) and OUTPUT_DIR/summary.json (count, total, mean).

Batchline's task contract (docs/processors.md): exit 0 when done; exit 3 when the input itself is bad
(Batchline does not retry it), after writing one line saying why to $BATCHLINE_ERROR_FILE; any other exit
(an uncaught exception exits 1) is retried, then reported.
"""

import csv
import json
import os
import sys

BAD_INPUT = 3


class BadInput(Exception):
    """The input can never be scored: retrying will not help."""


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return []
        if [h.strip().lower() for h in header] != ["item", "value"]:
            raise BadInput(f"the header is {header!r}, expected ['item', 'value']")
        rows = []
        for line_number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != 2:
                raise BadInput(f"line {line_number} has {len(row)} fields, expected 2")
            item, value = row
            try:
                rows.append((item, float(value)))
            except ValueError:
                raise BadInput(f"line {line_number}: value {value!r} is not a number") from None
    return rows


def main(argv):
    if len(argv) != 3:
        print("usage: main.py INPUT_PATH OUTPUT_DIR", file=sys.stderr)
        return 2
    input_path, output_dir = argv[1], argv[2]
    factor = float(os.environ.get("SCORE_FACTOR", "1"))
    print(f"scoring {os.environ.get('BATCHLINE_INPUT_URI', input_path)} (factor {factor})")
    try:
        rows = read_rows(input_path)
    except (BadInput, UnicodeDecodeError) as err:
        reason = f"bad input: {err}"
        print(reason, file=sys.stderr)
        error_file = os.environ.get("BATCHLINE_ERROR_FILE")
        if error_file:
            with open(error_file, "w", encoding="utf-8") as f:
                f.write(reason + "\n")
        return BAD_INPUT
    total = sum(value for _, value in rows)
    # An input with a header and no rows divides by zero here: a bug of this script, so a crash (exit 1).
    mean = total / len(rows)
    with open(os.path.join(output_dir, "scored.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["item", "value", "score"])
        for item, value in rows:
            writer.writerow([item, value, value * factor])
    summary = {"input": os.environ.get("BATCHLINE_INPUT_URI", input_path), "count": len(rows), "total": total, "mean": mean}
    with open(os.path.join(output_dir, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(f"scored {len(rows)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
