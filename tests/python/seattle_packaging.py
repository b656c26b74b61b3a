#!/usr/bin/env python3
"""Base installers made the way Seattle's own packaging makes them, for tests. Standard library only.

Usage:
  seattle_packaging.py clones OUT [--pubkey FILE] [--nmmain-extra TEXT]
      Writes a small fixture laid out like a folder of clones of Seattle's repositories (dist,
      nodemanager, repy_v2, repy_v1, portability, seattlelib_v2, seash, softwareupdater, common,
      affix, resource). Every file is written here for the test; none comes from Seattle. With
      --pubkey, softwareupdater.py embeds that key as `softwareupdatepublickey = {'e':E, 'n':N}`
      (as an operator sets it before building); otherwise a placeholder key.

  seattle_packaging.py bases --seattle DIR --pubkey FILE --privkey FILE --out DIR [--timestamp T]
      Packages such a folder as Seattle's dist/make_base_installers.py does (README, "Base
      installers made by Seattle's packaging", and docs/formats.md describe the facts):
        1. the program folder is filled as dist/preparetest.py fills it, completed with the
           resource scripts and dist's installer files, and cleaned by initial_files.fi;
        2. the metainfo is written over the whole program folder (every file but *.pyc, *.swp,
           *_repy.py and metainfo, in os.walk order) and signed with textbook RSA: the SHA-1 of
           the signed text, 0x01 before it, m^d mod n, written " <decimal>";
        3. nodeman.cfg and resources.offcut are copied in unsigned, and final_files.fi deletes
           more (opendhtadvertise.r2py, which is listed);
        4. seattle_linux.tgz and seattle_mac.tgz (tarfile "w:gz", GNU format as Python 2 wrote)
           and seattle_android.zip leave pyreadline/ out; seattle_win.zip (zipfile, deflated)
           keeps it. Each platform's scripts go into seattle/seattle_repy/ unsigned (README and
           LICENSE files into seattle/), its wrapper into seattle/ (Android takes Linux's).
      Prints JSON: {"listed": [...], "left_out": {platform: [...]}, "unsigned": {platform: [...]}}.

Keys are Seattle key files: "e n" and "d p q" (cib keygen writes them).
"""
import glob
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
import zipfile

PROGRAM = "seattle/seattle_repy"
TOP = "seattle"

# A placeholder softwareupdatepublickey: the shape of a key, nobody's key.
PLACEHOLDER_KEY = (65537, 2**1023 + 1)

LINUX_SCRIPTS = ["install.sh", "start_seattle.sh", "stop_seattle.sh", "uninstall.sh"]
WINDOWS_SCRIPTS = [
    "install.bat",
    "start_seattle.bat",
    "start_seattle_shortcut.bat",
    "stop_seattle.bat",
    "uninstall.bat",
]


def write(path, text, executable=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as handle:
        handle.write(text)
    os.chmod(path, 0o755 if executable else 0o644)


def read_key(path, count):
    with open(path) as handle:
        words = handle.read().split()
    if len(words) != count:
        raise SystemExit("%s: expected %d numbers" % (path, count))
    return [int(w) for w in words]


def updater_source(e, n):
    return (
        '"""A stand-in for Seattle\'s software updater: only the key line matters here."""\n'
        "import sys\n\n"
        'softwareurl = "http://updates.example.org/updatesite/"\n\n'
        "# Every node installed from these bases trusts this key for updates.\n"
        "softwareupdatepublickey = {'e':%d, 'n':%d}\n\n"
        "def main():\n"
        "  print('no updates in a test')\n" % (e, n)
    )


def make_clones(out, pubkey=None, nmmain_extra=""):
    """A folder laid out like clones of Seattle's repositories, with this test's own content."""
    e, n = read_key(pubkey, 2) if pubkey else PLACEHOLDER_KEY
    files = {
        # The node manager and the Repy runtimes.
        "nodemanager/nmmain.py": "version = '0.1t'\nprint('node manager')\n" + nmmain_extra,
        "nodemanager/nmAPI.py": "def status():\n  return 'ok'\n",
        "nodemanager/servicelogger.py": "def log(message):\n  pass\n",
        "nodemanager/nmmain.pyc": "stale byte code from a developer's run\n",
        "repy_v2/repy.py": "print('repy v2')\n",
        "repy_v2/namespace.py": "SAFE = True\n",
        "repy_v2/.gitignore": "*.pyc\n",
        "repy_v1/repy.py": "print('repy v1')\n",
        "repy_v1/restrictions.default": "resource cpu .10\n",
        "portability/repyportability.py": "def add_dy_support(context):\n  pass\n",
        "portability/nonportable.py": "def getruntime():\n  return 0\n",
        "seattlelib_v2/dylink.r2py": "# dylink\n",
        "seattlelib_v2/textops.py": "def textops_rawtexttolines(text):\n  return text.split('\\n')\n",
        "seattlelib_v2/signeddata.r2py": "# signeddata\n",
        "seattlelib_v2/rsa.r2py": "# rsa\n",
        "seattlelib_v2/opendhtadvertise.r2py": "# removed after signing by final_files.fi\n",
        "seash/seash.py": "print('seash')\n",
        "seash/pyreadline/__init__.py": "# Windows readline\n",
        "seash/pyreadline/console/console.py": "class Console:\n  pass\n",
        "seash/pyreadline/console/ansi.py": "ESC = '\\x1b'\n",
        "seash/modules/geoip/__init__.py": "moduledata = {}\n",
        "softwareupdater/softwareupdater.py": updater_source(e, n),
        "softwareupdater/writemetainfo.py": "print('writes the metainfo')\n",
        "softwareupdater/test.publickey": "3 7\n",
        "common/LICENSE": "The test fixture's license.\n",
        "common/seattleclearinghouse_xmlrpc.py": "API = 'xmlrpc'\n",
        "affix/affix_stack.r2py": "# affix stack\n",
        "affix/components/noopaffix.r2py": "# noop affix\n",
        "affix/services/tcp_relay/tcp_relay.r2py": "# tcp relay\n",
        "resource/benchmark_resources.py": "def measure():\n  return {}\n",
        "resource/Mac_BSD_resources.py": "pass\n",
        "resource/create_installer_state.py": "pass\n",
        "resource/measuredisk.py": "pass\n",
        "resource/vessel.restrictions": "resource memory 1000000\n",
        "resource/Linux_resources.py": "pass\n",
        "resource/measure_random.py": "pass\n",
        "resource/Win_WinCE_resources.py": "pass\n",
        # dist: the installer, its scripts and wrappers, and clean_folder's instructions.
        "dist/seattleinstaller.py": "print('installs Seattle')\n",
        "dist/seattleuninstaller.py": "print('uninstalls Seattle')\n",
        "dist/stop_all_seattle_processes.py": "print('stops Seattle')\n",
        "dist/update_crontab_entry.py": "print('updates the crontab entry')\n",
        "dist/nodeman.cfg": "configuration written at install\n",
        "dist/resources.offcut": "resource cpu .002\n",
        "dist/initial_files.fi": "# test instructions\ndel *.pyc\ndel *.mix\ndel *.publickey\n"
        "del *.privatekey\nreq nmmain.py\nreq softwareupdater.py\n",
        "dist/final_files.fi": "del *.pyc\ndel *_repy.py\ndel opendhtadvertise.r2py\n"
        "req metainfo\nreq nodeman.cfg\n",
        "dist/linux/scripts/manifest.txt": "not packed\n",
        "dist/linux/scripts/README.txt": "Seattle for Linux (test fixture)\n",
        "dist/win/scripts/README.txt": "Seattle for Windows (test fixture)\n",
        "dist/script_wrappers/win/install.bat": "@cd seattle_repy\r\n@call install.bat %*\r\n",
    }
    for platform in ("linux", "mac"):
        for name in LINUX_SCRIPTS:
            files["dist/%s/scripts/%s" % (platform, name)] = (
                "#!/bin/sh\n# %s %s (test fixture)\necho %s\n" % (platform, name, name)
            )
        files["dist/script_wrappers/%s/install.sh" % platform] = (
            "#!/bin/sh\n# %s wrapper: runs the installer inside\n"
            'cd "$(dirname "$0")/seattle_repy" && ./install.sh "$@"\n' % platform
        )
    for name in WINDOWS_SCRIPTS:
        files["dist/win/scripts/%s" % name] = "@echo %s (test fixture)\r\n" % name
    for relative, text in files.items():
        write(
            os.path.join(out, relative),
            text,
            executable=relative.endswith(".sh"),
        )


def copy_files(pattern, target):
    """dist/preparetest.py's copy_to_target: files (not folders) matching a glob, flat."""
    for path in sorted(glob.glob(pattern)):
        if os.path.isfile(path):
            shutil.copyfile(path, os.path.join(target, os.path.basename(path)))


def copy_tree(source, target):
    for root, _dirs, names in os.walk(source):
        relative = os.path.relpath(root, source)
        if ".git" in relative:
            continue
        os.makedirs(os.path.join(target, relative), exist_ok=True)
        for name in names:
            shutil.copyfile(os.path.join(root, name), os.path.join(target, relative, name))


def clean(folder, instructions):
    """clean_folder's "del" lines: top-level names matching a wildcard are removed."""
    if not os.path.exists(instructions):
        return
    with open(instructions) as handle:
        for line in handle:
            words = line.split("#")[0].split()
            if len(words) == 2 and words[0] == "del":
                for path in glob.glob(os.path.join(folder, words[1])):
                    if os.path.isdir(path):
                        shutil.rmtree(path)
                    else:
                        os.remove(path)


def fill_program(seattle, program):
    """The program folder, as dist/preparetest.py and make_base_installers.py fill it."""
    os.makedirs(os.path.join(program, "repyV1"))
    os.makedirs(os.path.join(program, "repyV2"))
    here = lambda *parts: os.path.join(seattle, *parts)
    for pattern in ("affix/*", "affix/components/*", "affix/services/tcp_relay/*"):
        copy_files(here(pattern), program)
    for repo in ("repy_v2", "nodemanager", "portability", "seattlelib_v2"):
        copy_files(here(repo, "*"), program)
    for pattern in (
        "portability/*",
        "repy_v2/*",
        "seattlelib_v2/dylink.r2py",
        "seattlelib_v2/textops.py",
        "nodemanager/servicelogger.py",
    ):
        copy_files(here(pattern), os.path.join(program, "repyV2"))
    copy_files(here("repy_v1", "*"), os.path.join(program, "repyV1"))
    copy_files(here("seash", "*"), program)
    copy_tree(here("seash", "pyreadline"), os.path.join(program, "pyreadline"))
    copy_tree(here("seash", "modules"), os.path.join(program, "modules"))
    copy_files(here("common", "seattleclearinghouse_xmlrpc.py"), program)
    copy_files(here("softwareupdater", "*"), program)
    copy_files(here("dist", "update_crontab_entry.py"), program)
    copy_files(here("common", "LICENSE"), program)
    for name in (
        "benchmark_resources.py",
        "Mac_BSD_resources.py",
        "create_installer_state.py",
        "measuredisk.py",
        "vessel.restrictions",
        "Linux_resources.py",
        "measure_random.py",
        "Win_WinCE_resources.py",
    ):
        copy_files(here("resource", name), program)
    for name in (
        "seattleinstaller.py",
        "seattleuninstaller.py",
        "stop_all_seattle_processes.py",
        "update_crontab_entry.py",
    ):
        copy_files(here("dist", name), program)
    clean(program, here("dist", "initial_files.fi"))


def listed(relative):
    """softwareupdater/writemetainfo.py: which files go into the metainfo."""
    return not (
        relative.endswith(".pyc")
        or relative.endswith(".swp")
        or relative.endswith("_repy.py")
        or relative.endswith("metainfo")
    )


def sign(text, e, n, d, timestamp):
    """signeddata: the text, then !key!timestamp!expiration!None!None! and the signature."""
    expiration = timestamp + 60 * 60 * 24 * 30
    signed = text + "\n!%d %d!%d!%d!None!None" % (e, n, timestamp, expiration)
    digest = hashlib.sha1(signed.encode("latin-1")).digest()
    message = int.from_bytes(b"\x01" + digest, "big")
    return signed + "! " + str(pow(message, d, n))


def write_metainfo(program, e, n, d, timestamp):
    lines = []
    names = []
    for root, _dirs, files in os.walk(program):
        for name in files:
            relative = os.path.relpath(os.path.join(root, name), program).replace(os.sep, "/")
            if not listed(relative):
                continue
            with open(os.path.join(root, name), "rb") as handle:
                data = handle.read()
            lines.append("%s %s %d\n" % (relative, hashlib.sha1(data).hexdigest(), len(data)))
            names.append(relative)
    with open(os.path.join(program, "metainfo"), "w", newline="") as handle:
        handle.write(sign("".join(lines), e, n, d, timestamp))
    return names


def platform_files(seattle, scripts, wrappers):
    """(source, name in the archive) for one platform's scripts and wrapper."""
    chosen = []
    folder = os.path.join(seattle, "dist", scripts)
    for name in sorted(os.listdir(folder)):
        if name.startswith(".") or name == "manifest.txt":
            continue
        inside = "README" not in name and "LICENSE" not in name
        chosen.append((os.path.join(folder, name), (PROGRAM if inside else TOP) + "/" + name))
    folder = os.path.join(seattle, "dist", "script_wrappers", wrappers)
    for name in sorted(os.listdir(folder)):
        if not name.startswith("."):
            chosen.append((os.path.join(folder, name), TOP + "/" + name))
    return chosen


def package(seattle, program, out):
    entries = sorted(os.listdir(program))
    made = {}
    for platform, scripts, wrappers in (("linux", "linux/scripts", "linux"), ("mac", "mac/scripts", "mac")):
        path = os.path.join(out, "seattle_%s.tgz" % platform)
        with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as archive:
            for name in entries:
                if name != "pyreadline":
                    archive.add(os.path.join(program, name), PROGRAM + "/" + name, recursive=True)
            for source, name in platform_files(seattle, scripts, wrappers):
                archive.add(source, name, recursive=False)
        made[platform] = path
    for platform, scripts, wrappers, skip in (
        ("windows", "win/scripts", "win", ()),
        ("android", "linux/scripts", "linux", ("pyreadline",)),
    ):
        path = os.path.join(out, "seattle_%s.zip" % ("win" if platform == "windows" else platform))
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in entries:
                if name in skip:
                    continue
                full = os.path.join(program, name)
                if os.path.isdir(full):
                    for root, _dirs, files in os.walk(full):
                        for file_name in files:
                            source = os.path.join(root, file_name)
                            relative = os.path.relpath(source, program).replace(os.sep, "/")
                            archive.write(source, PROGRAM + "/" + relative)
                else:
                    archive.write(full, PROGRAM + "/" + name)
            for source, name in platform_files(seattle, scripts, wrappers):
                archive.write(source, name)
        made[platform] = path
    return made


def program_names(archive_path):
    """Files under seattle/seattle_repy/ in a made base, relative to it."""
    if archive_path.endswith(".zip"):
        with zipfile.ZipFile(archive_path) as archive:
            names = [i.filename for i in archive.infolist() if not i.is_dir()]
    else:
        with tarfile.open(archive_path) as archive:
            names = [m.name for m in archive.getmembers() if m.isfile()]
    prefix = PROGRAM + "/"
    return sorted(n[len(prefix):] for n in names if n.startswith(prefix))


def make_bases(seattle, pubkey, privkey, out, timestamp):
    e, n = read_key(pubkey, 2)
    d, p, q = read_key(privkey, 3)
    if p * q != n:
        raise SystemExit("the private key does not belong to the public key")
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="seattle-packaging-")
    try:
        program = os.path.join(work, "seattle_repy")
        os.makedirs(program)
        fill_program(seattle, program)
        signed = write_metainfo(program, e, n, d, timestamp)
        for name in ("nodeman.cfg", "resources.offcut"):
            shutil.copy2(os.path.join(seattle, "dist", name), program)
        clean(program, os.path.join(seattle, "dist", "final_files.fi"))
        made = package(seattle, program, out)
    finally:
        shutil.rmtree(work)
    report = {"listed": sorted(signed), "left_out": {}, "unsigned": {}}
    for platform, path in made.items():
        present = set(program_names(path))
        report["left_out"][platform] = sorted(set(signed) - present)
        report["unsigned"][platform] = sorted(present - set(signed) - {"metainfo"})
    return report


def main(argv):
    if len(argv) >= 2 and argv[0] == "clones":
        options = dict(zip(argv[2::2], argv[3::2]))
        make_clones(argv[1], options.get("--pubkey"), options.get("--nmmain-extra", ""))
        return 0
    if argv and argv[0] == "bases":
        options = dict(zip(argv[1::2], argv[2::2]))
        try:
            report = make_bases(
                options["--seattle"],
                options["--pubkey"],
                options["--privkey"],
                options["--out"],
                int(options.get("--timestamp", int(time.time()))),
            )
        except KeyError as missing:
            print(__doc__)
            print("missing option %s" % missing)
            return 2
        print(json.dumps(report))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
