# gdb script: print the plaintext seen at located SSL_write / SSL_read entries.
# Checks a locator verdict by hand on a running program (see docs/boringssl-locator.md).
#
#   AGENTSIGHT_WRITE=0x3531300 AGENTSIGHT_READ=0x35314b0 \
#   gdb -q -batch -ex 'handle SIGPIPE SIGUSR1 SIGUSR2 nostop noprint pass' \
#       -x scripts/gdb-tls-trace.py -ex run --args /path/to/claude -p hi
#
# At the write entry it prints rdi (SSL*), rsi (buf), edx (num) and the first
# bytes of buf; at the read entry it records rsi/edx and, at the return, eax
# (bytes read) and the first bytes of buf. Output goes to $AGENTSIGHT_TRACE_LOG
# (default: stderr). Breakpoints never stop the program.
import os
import sys
import gdb

WRITE = int(os.environ["AGENTSIGHT_WRITE"], 16)
READ = int(os.environ["AGENTSIGHT_READ"], 16)
LOG = open(os.environ["AGENTSIGHT_TRACE_LOG"], "w") if os.environ.get("AGENTSIGHT_TRACE_LOG") else sys.stderr
SHOW = int(os.environ.get("AGENTSIGHT_TRACE_BYTES", "200"))


def reg(name):
    return int(gdb.parse_and_eval("$" + name)) & 0xFFFFFFFFFFFFFFFF


def mem(addr, n):
    if n <= 0:
        return b""
    return bytes(gdb.selected_inferior().read_memory(addr, min(n, SHOW)))


class ReadReturn(gdb.FinishBreakpoint):
    def __init__(self, frame, buf, num):
        super().__init__(frame, internal=True)
        self.buf, self.num = buf, num

    def stop(self):
        ret = reg("rax") & 0xFFFFFFFF
        if ret >= 0x80000000:
            ret -= 1 << 32
        LOG.write("SSL_read  return eax=%d buf=%#x data=%r\n" % (ret, self.buf, mem(self.buf, ret)))
        LOG.flush()
        return False

    def out_of_scope(self):
        pass


class Entry(gdb.Breakpoint):
    def __init__(self, addr, kind):
        super().__init__("*%#x" % addr, internal=True)
        self.kind = kind

    def stop(self):
        ssl, buf, num = reg("rdi"), reg("rsi"), reg("rdx") & 0xFFFFFFFF
        if self.kind == "write":
            LOG.write("SSL_write entry ssl=%#x buf=%#x num=%d data=%r\n" % (ssl, buf, num, mem(buf, num)))
        else:
            LOG.write("SSL_read  entry ssl=%#x buf=%#x num=%d\n" % (ssl, buf, num))
            ReadReturn(gdb.newest_frame(), buf, num)
        LOG.flush()
        return False


Entry(WRITE, "write")
Entry(READ, "read")
