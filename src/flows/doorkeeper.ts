/**
 * "Seen recently?" without allocating: a fixed table of 32-bit string hashes (FNV-1a), one slot
 * per hash bucket. `seen(key)` answers whether the key's hash sits in its slot, and puts it there.
 * A collision can only make a key look seen (an early admission), never the reverse.
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
    const slot = h & this.mask;
    if (this.table[slot] === h) return true;
    this.table[slot] = h;
    return false;
  }

  /** Forgets a key (after it was admitted, so a later eviction needs two sightings again). */
  clear(): void {
    this.table.fill(0);
  }
}
