/**
 * One process per database file: an exclusive `flock(2)` on `<database>.lock`, held for the life
 * of the process. The kernel drops it when the process dies, however it dies, so a `kill -9` never
 * leaves a stale lock and the next start succeeds at once. Why a side file and not the database:
 * SQLite takes POSIX (fcntl) locks on the database, and where flock is emulated with fcntl (NFS),
 * SQLite closing any handle on the file would silently drop ours. Bun has no flock of its own;
 * bun:ffi calls the C library's (a few lines, where a native addon would need a build step).
 */
import { dlopen, FFIType, read } from "bun:ffi";
import { closeSync, openSync } from "node:fs";

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;

function loadLibc() {
  const symbols = {
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  } as const;
  // glibc (Debian, Bun's distroless image), then musl (Alpine).
  for (const name of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"]) {
    try {
      return dlopen(name, symbols).symbols;
    } catch {}
  }
  throw new Error("no C library with flock found (libc.so.6 or musl)");
}

/** Thrown when another live process holds the lock. */
export class FileLockedError extends Error {}

/**
 * Takes the exclusive lock of `path` + ".lock" without waiting; throws `FileLockedError` if another
 * process holds it. Returns `release`, which drops it (process exit drops it too).
 */
export function lockFile(path: string): { lockPath: string; release: () => void } {
  const lockPath = `${path}.lock`;
  const libc = loadLibc();
  const fd = openSync(lockPath, "a");
  if (libc.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const errno = read.i32(libc.__errno_location() as NonNullable<ReturnType<typeof libc.__errno_location>>);
    closeSync(fd);
    if (errno === EWOULDBLOCK) throw new FileLockedError(`${lockPath} is locked by another process`);
    throw new Error(`flock(${lockPath}) failed with errno ${errno}`);
  }
  let held = true;
  return {
    lockPath,
    release: () => {
      if (held) closeSync(fd);
      held = false;
    },
  };
}
