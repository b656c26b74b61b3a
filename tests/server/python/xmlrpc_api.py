"""The clearinghouse's exact call (docs/formats.md#xml-rpc-api), the old service's negative cases and the
get_urls round trip, through Python's own xmlrpc.client. Usage: xmlrpc_api.py XMLRPC_URL
OWNER_PUBLIC_KEY USER_PUBLIC_KEY. Prints one JSON object with what the server answered."""
import json
import sys
import xmlrpc.client

url, owner_key, user_key = sys.argv[1:4]
proxy = xmlrpc.client.ServerProxy(url)
out = {"api_version": proxy.api_version()}

# What the clearinghouse sends when a person clicks "download installer for <platform>".
built = proxy.build_installers(
    [{"percentage": 80, "owner": "owner", "users": ["user"]}],
    {"owner": {"public_key": owner_key}, "user": {"public_key": user_key}})
out["clearinghouse"] = built
out["get_urls"] = proxy.get_urls(built["build_id"])
out["clearinghouse_again"] = proxy.build_installers(
    [{"percentage": 80, "owner": "owner", "users": ["user"]}],
    {"owner": {"public_key": owner_key}, "user": {"public_key": user_key}})

# user_data is optional: every user then gets a generated key pair.
generated = proxy.build_installers([{"percentage": 80, "owner": "alice", "users": ["bob"]}])
out["generated"] = generated


def fault(name, method, *args):
    try:
        getattr(proxy, method)(*args)
        out[name] = "no fault"
    except xmlrpc.client.Fault as error:
        out[name] = {"faultCode": error.faultCode, "faultString": error.faultString}


# The old service's negative tests, one by one.
fault("api_version_arg", "api_version", "")
fault("total_100", "build_installers", [{"percentage": 100, "owner": "owner"}],
      {"owner": {"public_key": owner_key}})
fault("no_owner", "build_installers", [{"percentage": 80, "users": ["user"]}],
      {"user": {"public_key": user_key}})
fault("key_invalid", "build_installers", [{"percentage": 80, "owner": "owner"}],
      {"owner": {"public_key": "INVALID"}})
# Keys that pass Seattle's e < n yet no RSA key can be: e = 1, an even e, an even n.
for label, key in [("key_exponent_one", "1 3233"), ("key_exponent_even", "4 3233"),
                   ("key_modulus_even", "17 3234")]:
    fault(label, "build_installers", [{"percentage": 80, "owner": "owner"}],
          {"owner": {"public_key": key}})
fault("get_urls_invalid", "get_urls", "INVALID")
fault("get_urls_unknown", "get_urls", "0" * 40)
fault("percentage_15", "build_installers", [{"percentage": 15, "owner": "owner"},
                                             {"percentage": 65, "owner": "owner"}])
fault("bad_name", "build_installers", [{"percentage": 80, "owner": "_x"}])
fault("no_args", "build_installers")
fault("unknown_method", "delete_everything")
print(json.dumps(out, indent=1))
