"""The tables an HTML page carries, read back from its embedded JSON."""
import json
import re


def page_tables(text: str) -> dict[str, dict]:
    """Every table's embedded JSON, by anchor."""
    found = re.findall(r'<script type="application/json" id="([^"]+)-data">(.*?)</script>', text, re.S)
    return {anchor: json.loads(body) for anchor, body in found}
