# A Python interpreter started ahead of a request, in a prepared sandbox, as `python3 -u main.py`
# with this directory on PYTHONPATH: site imports this module during start-up, before the
# interpreter opens main.py. It waits for the execution's spec (cwd, environment, argv; the format
# of build/runtools-launch), puts back what a fresh start would have (sys.path, the environment,
# the real sitecustomize) and returns; the interpreter then runs main.py itself, as the true
# __main__, with no frame of ours on the stack. Nothing here may leave a trace the program can see.
import os
import sys


def _runtools_wait():
    fd = int(os.environ["RUNTOOLS_SPEC_FD"])
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    spec = b"".join(chunks)
    if not spec:
        os._exit(0)  # the sandbox was discarded unused
    fields = spec.split(b"\0")[:-1]
    count = int(fields[1])
    env, argv = fields[2 : 2 + count], fields[2 + count :]
    if fields[0] != os.fsencode(os.getcwd()) or argv != [os.fsencode(a) for a in sys.orig_argv]:
        os.write(2, b"runtools: the prepared interpreter does not match this execution\n")
        os._exit(127)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p != here]
    sys.path_importer_cache.pop(here, None)
    # The execution's environment, in its order, as the C environ of a fresh process would hold it.
    os.environ.clear()
    for entry in env:
        key, _, value = entry.partition(b"=")
        os.environb[key] = value


_runtools_wait()
del sys.modules["sitecustomize"]
try:
    # The interpreter's own sitecustomize, if it has one, imported as site would import it.
    import sitecustomize
except ImportError as exc:
    if exc.name != "sitecustomize":
        raise
    # No sitecustomize on a fresh start: site ignores this error, as it would have.
    raise ImportError(name="sitecustomize") from None
