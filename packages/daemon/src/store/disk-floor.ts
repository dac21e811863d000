import { statfs } from 'node:fs/promises'
import { DiskFullError } from '@mlp/proto'

/** Most free space a fetch leaves untouched on a large filesystem. */
export const FREE_FLOOR_MAX_BYTES = 256 * 1024 * 1024
/** Share of a small filesystem's size a fetch leaves free (5 %, what ext4 reserves for root). */
export const FREE_FLOOR_FRACTION = 0.05
/** The free space is measured again at least every this many bytes written. */
export const FREE_CHECK_EVERY_BYTES = 8 * 1024 * 1024
/** Free inodes a writer leaves untouched: a DAG of many empty files must not use up the filesystem's inodes. */
export const FREE_FLOOR_INODES = 10_000
/** Free inodes are measured again at least every this many files or directories created. */
const INODE_CHECK_EVERY = 1_000

/**
 * The free space a fetch keeps on the store's filesystem: the smaller of
 * {@link FREE_FLOOR_MAX_BYTES} and {@link FREE_FLOOR_FRACTION} of its size.
 * `MLP_FREE_FLOOR_BYTES` overrides it (tests, or a user who wants more room).
 */
export function freeFloorBytes (filesystemBytes: number): number {
  const override = Number(process.env.MLP_FREE_FLOOR_BYTES)
  if (process.env.MLP_FREE_FLOOR_BYTES != null && Number.isFinite(override) && override >= 0) return override
  return Math.min(FREE_FLOOR_MAX_BYTES, Math.floor(filesystemBytes * FREE_FLOOR_FRACTION))
}

const MIB = 1024 * 1024

/**
 * Keeps a fetch from filling the disk: bytes from peers are counted as they
 * arrive (a DAG's declared size is the sender's word, so it is never
 * trusted) and the filesystem is asked again with statfs before the
 * headroom measured last time could be used up. A full disk breaks more than
 * the fetch (the index, the log, the user's other programs), so the fetch
 * stops with the floor still free.
 */
export class DiskFloor {
  /** Bytes written since the last statfs. */
  private unchecked = 0
  /** Bytes that may be written before statfs is asked again. */
  private headroom = 0

  /** Files or directories created since the last statfs. */
  private entries = 0
  /** The statfs check in progress, which every writer over the headroom waits on. */
  private checking: Promise<void> | undefined

  /**
   * @param dir - a directory on the filesystem the bytes go to.
   * @param what - what is being written, for the message.
   * @param verb - what the writer does, for the message ('fetching', 'writing').
   */
  constructor (private readonly dir: string, private readonly what: string, private readonly verb = 'fetching') {}

  /**
   * Accounts for `bytes` about to be written and `entries` files or
   * directories about to be created (a tree written out from a few blocks
   * can name millions of them); throws {@link DiskFullError} below the floor.
   */
  async reserve (bytes: number, entries = 0): Promise<void> {
    this.unchecked += bytes
    this.entries += entries
    // several writers share one floor (a fetch's peers, a tree's files): one
    // statfs at a time, which they all wait on; one that fails fails them all
    while (this.unchecked > this.headroom || this.entries >= INODE_CHECK_EVERY) {
      this.checking ??= this.check(bytes, entries).finally(() => { this.checking = undefined })
      await this.checking
    }
  }

  /** The statfs behind {@link reserve}; only one runs at a time, so what it counted is what it clears. */
  private async check (bytes: number, entries: number): Promise<void> {
    const counted = { bytes: this.unchecked, entries: this.entries }
    const fs = await statfs(this.dir)
    const free = fs.bavail * fs.bsize
    const floor = freeFloorBytes(fs.blocks * fs.bsize)
    if (free - bytes < floor) {
      throw new DiskFullError(`disk full while ${this.verb} ${this.what}: ${Math.floor(free / MIB)} MiB free in ${this.dir}, and mlp keeps ${Math.ceil(floor / MIB)} MiB free: free space (\`mlp gc\` removes unreferenced blocks) and retry`)
    }
    // filesystems without inode counts (some report 0 files) are not limited by them
    if (fs.files > 0 && fs.ffree - entries < Math.min(FREE_FLOOR_INODES, fs.files / 20)) {
      throw new DiskFullError(`no free inodes while ${this.verb} ${this.what}: ${fs.ffree} left in ${this.dir}, and mlp keeps ${FREE_FLOOR_INODES} free: remove files and retry`)
    }
    // what other writers counted while statfs ran stays for the next check
    this.unchecked -= counted.bytes
    this.entries -= counted.entries
    // half the room left: other writers (and the pack's write buffer) use some too
    this.headroom = Math.min(FREE_CHECK_EVERY_BYTES, Math.floor((free - bytes - floor) / 2))
  }
}
