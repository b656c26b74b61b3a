"""Hostile and malformed requests against the server (README, "Security and limits"), with only the
standard library. Usage: hostile.py ORIGIN BASE_PATH. Prints one JSON object: for each case the
HTTP status and, for XML-RPC answers, the fault as xmlrpc.client parsed it."""
import http.client
import json
import sys
import urllib.parse
import xmlrpc.client

origin = urllib.parse.urlsplit(sys.argv[1])
base = sys.argv[2]
results = {}


def request(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(origin.hostname, origin.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, dict(response.getheaders()), data
    finally:
        conn.close()


def rpc(name, body, content_type="text/xml"):
    """POSTs a raw body to the XML-RPC endpoint and records the status and fault."""
    status, headers, data = request("POST", base + "xmlrpc/", body, {"Content-Type": content_type})
    entry = {"status": status}
    if status == 200:
        try:
            xmlrpc.client.loads(data)
            entry["result"] = "no fault"
        except xmlrpc.client.Fault as fault:
            entry["faultCode"] = fault.faultCode
            entry["faultString"] = fault.faultString
    else:
        entry["body"] = data.decode("utf-8", "replace")
    results[name] = entry


def call(method, *params):
    return xmlrpc.client.dumps(params, method).encode("utf-8")


rpc("doctype", b'<?xml version="1.0"?><!DOCTYPE methodCall [<!ELEMENT methodCall ANY>]>'
    + call("api_version")[len(b"<?xml version='1.0'?>"):])
rpc("external_entity", b'<?xml version="1.0"?>\n<!DOCTYPE m [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<methodCall><methodName>get_urls</methodName><params><param><value><string>&xxe;</string>"
    b"</value></param></params></methodCall>")
laughs = b'<!ENTITY lol "lol">' + b"".join(
    b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
rpc("billion_laughs", b'<?xml version="1.0"?><!DOCTYPE lolz [' + laughs + b"]>"
    b"<methodCall><methodName>get_urls</methodName><params><param><value>&lol9;</value></param>"
    b"</params></methodCall>")
deep = b"<value><array><data>" * 200 + b"<value><int>1</int></value>" + b"</data></array></value>" * 200
rpc("deep_nesting", b"<?xml version='1.0'?><methodCall><methodName>build_installers</methodName>"
    b"<params><param>" + deep + b"</param></params></methodCall>")
rpc("not_utf8", call("get_urls", "caf\u00e9").replace("caf\u00e9".encode("utf-8"), "caf\u00e9".encode("latin-1")))
rpc("declared_latin1", b"<?xml version='1.0' encoding='iso-8859-1'?><methodCall><methodName>api_version"
    b"</methodName><params></params></methodCall>")
rpc("malformed", b"<?xml version='1.0'?><methodCall><methodName>api_version</methodName><params>")
rpc("not_xml", b"hello, world")
rpc("empty", b"")
rpc("unknown_method", call("build_everything"))
rpc("markup_in_fault", call("build_installers", [{"percentage": 80, "owner": "a<b>&c\u00e9"}]))
rpc("wrong_type_vessels", call("build_installers", "not a list"))
rpc("wrong_type_user_data", call("build_installers", [{"percentage": 80, "owner": "owner"}], ["x"]))
rpc("too_many_args", call("build_installers", [], {}, 3))
rpc("get_urls_int", call("get_urls", 42))
rpc("nil_argument", call("get_urls", None, allow_none=True) if False else
    xmlrpc.client.dumps((None,), "get_urls", allow_none=True).encode())
rpc("proto_member", b"<?xml version='1.0'?><methodCall><methodName>build_installers</methodName><params>"
    b"<param><value><array><data><value><struct><member><name>__proto__</name><value><struct>"
    b"<member><name>percentage</name><value><int>80</int></value></member></struct></value></member>"
    b"</struct></value></data></array></value></param></params></methodCall>")



def vessel_with_users(values):
    """A compact build_installers call (no whitespace, untyped strings): one vessel, these users."""
    return ("<?xml version='1.0'?><methodCall><methodName>build_installers</methodName><params><param>"
            "<value><array><data><value><struct><member><name>percentage</name><value><int>80</int></value>"
            "</member><member><name>owner</name><value>owner</value></member><member><name>users</name>"
            "<value><array><data>" + "".join("<value>%s</value>" % v for v in values)
            + "</data></array></value></member></struct></value></data></array></value></param></params>"
            "</methodCall>").encode("utf-8")


# 40,000 distinct short names in a ~650 KB call: the parse stops at the cap on values per call.
alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
forty_thousand = ["%s%s%s%s" % (alphabet[i // 1296 % 26], alphabet[i // 36 % 36], alphabet[i % 36],
                                "" if i < 26 * 1296 else i) for i in range(40000)]
body = vessel_with_users(forty_thousand)
rpc("forty_thousand_names", body)
results["forty_thousand_names"]["body_bytes"] = len(body)
# 45,000 invalid names in a ~950 KB call: refused the same way.
body = vessel_with_users("_%05d" % i for i in range(45000))
rpc("megabyte_of_names", body)
results["megabyte_of_names"]["body_bytes"] = len(body)
# 101 distinct users: refused by the cap on users per build, naming the field.
rpc("too_many_users", vessel_with_users(forty_thousand[:100]))
# 4,000 invalid names: one problem each, but the fault lists 20.
rpc("many_problems", vessel_with_users("_%05d" % i for i in range(4000)))
# One 900 KB name: quoted back short.
rpc("long_name", vessel_with_users(["n" * 900000]))

# Content types a cross-site form can send are refused before the body is read; the content
# type Python's own xmlrpc.client sends is recorded to show it is still taken.
for name, content_type in [("form_text_plain", "text/plain"),
                           ("form_urlencoded", "application/x-www-form-urlencoded"),
                           ("form_multipart", "multipart/form-data; boundary=x"),
                           ("form_text_plain_upper", "Text/Plain; charset=utf-8")]:
    rpc(name, call("api_version"), content_type)


class RecordingTransport(xmlrpc.client.Transport):
    def send_headers(self, connection, headers):
        results["python_content_type"] = dict(headers).get("Content-Type")
        super().send_headers(connection, headers)


results["python_client"] = xmlrpc.client.ServerProxy(
    sys.argv[1] + base + "xmlrpc/", transport=RecordingTransport()).api_version()

# Over the size limit, declared up front: answered 413 without the server holding the body.
huge = b"<?xml version='1.0'?><methodCall><methodName>api_version</methodName><params><param><value><string>" \
    + b"A" * (3 * 1024 * 1024) + b"</string></value></param></params></methodCall>"
status, _, data = request("POST", base + "xmlrpc/", huge, {"Content-Type": "text/xml"})
results["huge_declared"] = {"status": status, "body": data.decode("utf-8", "replace")}


# The same without Content-Length (chunked): the server counts while streaming. The text is a
# well-formed call so far (the server parses as it reads, and would refuse anything else at once).
def chunks():
    yield b"<?xml version='1.0'?><methodCall><methodName>api_version</methodName><params><param><value><string>"
    for _ in range(48):
        yield b"B" * 65536


conn = http.client.HTTPConnection(origin.hostname, origin.port, timeout=30)
try:
    conn.request("POST", base + "xmlrpc/", body=chunks(), headers={"Content-Type": "text/xml"},
                 encode_chunked=True)
    response = conn.getresponse()
    results["huge_chunked"] = {"status": response.status, "body": response.read().decode("utf-8", "replace")}
except (ConnectionError, BrokenPipeError) as error:
    results["huge_chunked"] = {"status": "connection closed: " + type(error).__name__}
finally:
    conn.close()

# Wrong HTTP methods and paths that try to escape.
for name, method, path in [
    ("put_xmlrpc", "PUT", base + "xmlrpc/"),
    ("delete_root", "DELETE", base),
    ("traversal_encoded", "GET", base + "..%2f..%2fetc/passwd/installers/linux/"),
    ("traversal_encoded_upper", "GET", base + "..%2F..%2Fetc%2Fpasswd"),
    ("traversal_dotdot", "GET", base + "../../etc/passwd"),
    ("traversal_backslash", "GET", base + "..%5c..%5cetc%5cpasswd"),
    ("traversal_in_id", "GET", base + "....................................../installers/linux/"),
    ("id_uppercase", "GET", base + "ABCDEF0123456789ABCDEF0123456789ABCDEF01/installers/linux/"),
    ("id_unknown", "GET", base + "0123456789abcdef0123456789abcdef01234567/installers/linux/"),
    ("share_unknown", "GET", base + "0123456789abcdef0123456789abcdef01234567/"),
    ("data_dir_probe", "GET", base + "data/builds/"),
    ("bad_percent", "GET", base + "%ff%fe/installers/linux/"),
]:
    status, _, data = request(method, path)
    results[name] = {"status": status, "body": data.decode("utf-8", "replace")}

# And the server is still up and answering.
results["still_up"] = xmlrpc.client.ServerProxy(sys.argv[1] + base + "xmlrpc/").api_version()
print(json.dumps(results, indent=1))
