"""The worker's kernel-level confinement: rlimits, user drop, Landlock and seccomp.

Each layer is applied only where the kernel allows and is then probed; `lock_down`
returns which layers are really active. Landlock and seccomp go through `ctypes` syscalls
(no extra packages). Linux only; on other systems every layer reports False.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import sys

NOBODY = 65534
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2

# Landlock (same syscall numbers on x86_64 and aarch64).
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_RESTRICT_SELF = 444, 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_FS_BITS_BY_ABI = {1: 13, 2: 14, 3: 15, 4: 15, 5: 16}  # number of access-fs bits
LANDLOCK_NET_ALL = 0b11  # bind and connect TCP (ABI >= 4)
LANDLOCK_SCOPE_ALL = 0b11  # abstract unix sockets and signals (ABI >= 6)

# seccomp-BPF
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
BPF_LD_W_ABS, BPF_JEQ, BPF_JGE, BPF_JSET, BPF_RET = 0x20, 0x15, 0x35, 0x45, 0x06
RET_KILL_PROCESS, RET_ERRNO, RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
EPERM, ENOSYS = 1, 38
OPEN_WRITE_FLAGS = 0o1 | 0o2 | 0o100 | 0o1000 | 0o2000  # WRONLY RDWR CREAT TRUNC APPEND
X32_BIT = 0x40000000

# Denied syscalls (EPERM): processes, exec, network, signals to others, debugging, mounts,
# namespaces, kernel attack surface, and every call that changes the file system.
# name: (x86_64, aarch64); None where the architecture has no such call.
DENIED: dict[str, tuple[int | None, int | None]] = {
    "socket": (41, 198), "socketpair": (53, 199), "connect": (42, 203), "bind": (49, 200),
    "listen": (50, 201), "accept": (43, 202), "accept4": (288, 242),
    "clone": (56, 220), "fork": (57, None), "vfork": (58, None), "execve": (59, 221),
    "execveat": (322, 281), "kill": (62, 129), "tkill": (200, 130), "tgkill": (234, 131),
    "rt_sigqueueinfo": (129, 138), "rt_tgsigqueueinfo": (297, 240),
    "pidfd_open": (434, 434), "pidfd_send_signal": (424, 424), "pidfd_getfd": (438, 438),
    "ptrace": (101, 117), "process_vm_readv": (310, 270), "process_vm_writev": (311, 271),
    "process_madvise": (440, 440), "mount": (165, 40), "umount2": (166, 39),
    "pivot_root": (155, 41), "chroot": (161, 51), "unshare": (272, 97), "setns": (308, 268),
    "open_tree": (428, 428), "move_mount": (429, 429), "fsopen": (430, 430),
    "fsmount": (432, 432), "bpf": (321, 280), "perf_event_open": (298, 241),
    "userfaultfd": (323, 282), "io_uring_setup": (425, 425), "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427), "keyctl": (250, 219), "add_key": (248, 217),
    "request_key": (249, 218), "init_module": (175, 105), "finit_module": (313, 273),
    "delete_module": (176, 106), "kexec_load": (246, 104), "kexec_file_load": (320, 294),
    "reboot": (169, 142), "swapon": (167, 224), "swapoff": (168, 225),
    "open_by_handle_at": (304, 265), "name_to_handle_at": (303, 264),
    "personality": (135, 92), "acct": (163, 89), "creat": (85, None), "unlink": (87, None),
    "unlinkat": (263, 35), "rename": (82, None), "renameat": (264, 38),
    "renameat2": (316, 276), "mkdir": (83, None), "mkdirat": (258, 34), "rmdir": (84, None),
    "link": (86, None), "linkat": (265, 37), "symlink": (88, None), "symlinkat": (266, 36),
    "chmod": (90, None), "fchmod": (91, 52), "fchmodat": (268, 53), "chown": (92, None),
    "fchown": (93, 55), "lchown": (94, None), "fchownat": (260, 54), "truncate": (76, 45),
    "mknod": (133, None), "mknodat": (259, 33),
}  # fmt: skip
NOT_IMPLEMENTED = {"clone3": (435, 435), "openat2": (437, 437)}  # ENOSYS: libc falls back
OPEN_CALLS = {"open": ((2, 1), None), "openat": ((257, 2), (56, 2))}  # (nr, flags arg index)


def limit_resources(memory_bytes: int, cpu_s: int) -> None:
    """Bound address space, CPU seconds and core dumps (before anything heavy is imported)."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def lock_down(
    max_open_files: int, drop_user: bool = True, landlock: bool = True, seccomp: bool = True
) -> dict[str, bool]:
    """Apply the remaining layers after imports; return which are active.

    Order: file-size/open-file/process rlimits, drop root to nobody, not dumpable,
    no-new-privileges, Landlock (no file system, no TCP, no signals out), seccomp.
    """
    layers = {"rlimits": _late_rlimits(max_open_files)}
    single_thread = _single_thread()
    layers["user"] = drop_user and _drop_root()
    libc = _libc()
    if libc is None:
        return {**layers, "no_new_privs": False, "landlock": False, "seccomp": False}
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    layers["no_new_privs"] = libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
    ok = layers["no_new_privs"] and single_thread
    layers["landlock"] = ok and landlock and _landlock(libc) and _file_access_denied()
    layers["seccomp"] = ok and seccomp and _seccomp(libc) and _socket_denied(libc)
    return layers


def _single_thread() -> bool:
    """Landlock and seccomp (without TSYNC) bind only the calling thread: require one."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _late_rlimits(max_open_files: int) -> bool:
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (max_open_files, max_open_files))
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # binds once root is dropped
    except (ValueError, OSError):
        return False
    return True


def _drop_root() -> bool:
    if os.geteuid() != 0:
        return False
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)
    return os.geteuid() == NOBODY


def _libc() -> ctypes.CDLL | None:
    if sys.platform != "linux" or platform.machine() not in AUDIT_ARCH:
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


# --- Landlock -------------------------------------------------------------------------------
class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


def _landlock(libc: ctypes.CDLL) -> bool:
    """A ruleset that handles every access right and allows none: no paths, TCP, signals."""
    abi = libc.syscall(
        SYS_LANDLOCK_CREATE_RULESET,
        None,
        ctypes.c_size_t(0),
        ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION),
    )
    if abi < 1:
        return False
    attr = _RulesetAttr((1 << LANDLOCK_FS_BITS_BY_ABI.get(abi, 16)) - 1, 0, 0)
    size = 8
    if abi >= 4:
        attr.handled_access_net, size = LANDLOCK_NET_ALL, 16
    if abi >= 6:
        attr.scoped, size = LANDLOCK_SCOPE_ALL, 24
    fd = libc.syscall(
        SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0)
    )
    if fd < 0:
        return False
    try:
        return libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(fd), ctypes.c_uint32(0)) == 0
    finally:
        os.close(fd)


def _file_access_denied() -> bool:
    try:
        fd = os.open(sys.executable, os.O_RDONLY)
    except PermissionError:
        return True
    os.close(fd)
    return False


# --- seccomp ----------------------------------------------------------------------------------
class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [
        ("len", ctypes.c_uint16),
        ("filter", ctypes.POINTER(_SockFilter)),
    ]


def seccomp_program(machine: str) -> list[tuple[int, int, int, int]]:
    """The BPF filter for `machine` as (code, jt, jf, k) instructions."""
    arch = 0 if machine == "x86_64" else 1
    prog = [
        (BPF_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (BPF_JEQ, 1, 0, AUDIT_ARCH[machine]),
        (BPF_RET, 0, 0, RET_KILL_PROCESS),
        (BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":  # refuse the x32 ABI's aliases of every call
        prog += [(BPF_JGE, 0, 1, X32_BIT), _fail(EPERM)]
    for entry in OPEN_CALLS.values():
        if entry[arch] is None:
            continue
        nr, flags_arg = entry[arch]
        prog += [
            (BPF_JEQ, 0, 4, nr),
            (BPF_LD_W_ABS, 0, 0, 16 + 8 * flags_arg),  # low half of args[i] (little-endian)
            (BPF_JSET, 0, 1, OPEN_WRITE_FLAGS),
            _fail(EPERM),
            (BPF_RET, 0, 0, RET_ALLOW),
        ]
    for table, code in ((DENIED, EPERM), (NOT_IMPLEMENTED, ENOSYS)):
        for numbers in table.values():
            if numbers[arch] is not None:
                prog += [(BPF_JEQ, 0, 1, numbers[arch]), _fail(code)]
    prog.append((BPF_RET, 0, 0, RET_ALLOW))
    return prog


def _fail(code: int) -> tuple[int, int, int, int]:
    return (BPF_RET, 0, 0, RET_ERRNO | code)


def _seccomp(libc: ctypes.CDLL) -> bool:
    prog = seccomp_program(platform.machine())
    filters = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
    fprog = _SockFprog(len(prog), filters)
    return libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0


def _socket_denied(libc: ctypes.CDLL) -> bool:
    fd = libc.socket(2, 1, 0)  # AF_INET, SOCK_STREAM
    if fd >= 0:
        os.close(fd)
        return False
    return ctypes.get_errno() == EPERM
