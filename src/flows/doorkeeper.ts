/**
 * "Seen recently?" without allocating: a fixed table of 32-bit string hashes (FNV-1a, mixed), two
 * candidate slots per key. `seen(key)` is true when the key's hash sits in one of them (and then
 * removes it: the key is admitted), else puts it in a free one, or over the first. A hash
 * collision can only make a key look seen (an early admission).
 *
 * Used as the admission rule of the per-event caches: a key enters a cache only on its second
 * sighting while still in the table. Under a working set larger than the caches (100k distinct
 * processes against a 50k memo), inserting on every miss made each event leave a few hundred
 * bytes of medium-lived cache entries that survived two scavenges, were promoted, and died in the
 * old generation: ~650 B promoted per event, the heap swinging between 20 and 200 MiB.
 */
export class Doorkeeper {
  private readonly table: Uint32Array;
  private readonly mask: number;

  constructor(slots = 1 << 16) {
    const size = 1 << Math.ceil(Math.log2(Math.max(2, slots)));
    this.table = new Uint32Array(size);
    this.mask = size - 1;
  }

  seen(key: string): boolean {
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    // Mix the bits (FNV's low bits are weak for keys that differ in a few characters).
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    h = (h | 1) >>> 0; // never 0 (the empty slot); unsigned, as the table stores it
    // Two candidate slots: two keys sharing one slot would otherwise evict each other forever.
    const a = h & this.mask;
    const b = (Math.imul(h, 0x9e3779b1) >>> 7) & this.mask;
    const t = this.table;
    // A key seen again is admitted and leaves the table: the table then holds only keys waiting for
    // their second sighting, which keeps it sparse when the working set fits the caches.
    if (t[a] === h) return ((t[a] = 0), true);
    if (t[b] === h) return ((t[b] = 0), true);
    if (t[a] === 0) t[a] = h;
    else if (t[b] === 0) t[b] = h;
    else t[a] = h;
    return false;
  }

  /** Forgets a key (after it was admitted, so a later eviction needs two sightings again). */
  clear(): void {
    this.table.fill(0);
  }
}
