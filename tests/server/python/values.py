"""XML-RPC calls as Python's xmlrpc.client writes them, and how Python itself reads them back
(expat), for comparing the shim's reader with a real implementation. Usage: values.py. Prints a
JSON list of {"name", "xml", "expected"}: `expected` is xmlrpc.client.loads of the same text."""
import json
import xmlrpc.client

cases = {
    "markup_and_quotes": ["a<b>&c \"double\" 'single' ]]> &amp; &lt;"],
    "non_ascii": ["\u00e9t\u00e9 \u4e2d\u6587 \U0001f600 \u2028 \u0085 \u00a0"],
    "whitespace_kept": ["  lead and trail  ", "\ttab\nnewline\n\n", " ", ""],
    "crlf_read_as_xml_does": ["one\r\ntwo\rthree"],
    "numbers_and_booleans": [0, -5, 2**31 - 1, -(2**31), True, False, 1.5, -0.25, 1e300],
    "nested": [
        [{"percentage": 80, "owner": "owner", "users": ["user"]}],
        {"owner": {"public_key": "65537 " + "1234567890" * 8}, "\u00e9l\u00e8ve": {}},
        [],
        {},
        [[1, [2, [3]]], {"a": {"b": {"c": "d"}}}],
    ],
    "member_names_with_markup": [{"<&>\"'": 1, " spaced ": 2}],
}
out = []
for name, params in cases.items():
    xml = xmlrpc.client.dumps(tuple(params), "build_installers", encoding="utf-8")
    loaded, method = xmlrpc.client.loads(xml)
    out.append({"name": name, "xml": xml, "expected": {"method": method, "args": list(loaded)}})
print(json.dumps(out))
