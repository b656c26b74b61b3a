"""One XML-RPC call with xmlrpc.client. Usage: xmlrpc_call.py URL METHOD ARGS_JSON. Prints
{"result": …} or {"faultCode": …, "faultString": …}."""
import json
import sys
import xmlrpc.client

url, method, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
try:
    print(json.dumps({"result": getattr(xmlrpc.client.ServerProxy(url), method)(*args)}))
except xmlrpc.client.Fault as fault:
    print(json.dumps({"faultCode": fault.faultCode, "faultString": fault.faultString}))
