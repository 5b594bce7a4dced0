/** A member's place in a LinkedSet: kept by the caller to delete it in O(1). */
export interface Link<T> {
  value: T;
  previous: Link<T> | undefined;
  next: Link<T> | undefined;
}

/**
 * An insertion-ordered set of things added and removed at a high rate (requests in flight), for
 * a set that lives as long as the process. A `Set` there keeps dead members alive: V8 rehashes
 * its table every few additions, and the table it leaves behind keeps its entries and points at
 * its successor. Once one table is in the old generation, every later table, and each member it
 * held, survives the young-generation collections and is promoted (a loop adding and deleting
 * ~560-byte members: all of each promoted through a `Set`, nothing here; for the publisher's `Map`
 * see SequenceRing). Here a deleted link lets go of everything.
 */
export class LinkedSet<T> {
  #first: Link<T> | undefined;
  #last: Link<T> | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(value: T): Link<T> {
    const link: Link<T> = { value, previous: this.#last, next: undefined };
    if (this.#last) this.#last.next = link;
    else this.#first = link;
    this.#last = link;
    this.#size++;
    return link;
  }

  /** Removes the member; false when it was removed already. */
  delete(link: Link<T>): boolean {
    if (link.previous === undefined && this.#first !== link) return false;
    if (link.previous) link.previous.next = link.next;
    else this.#first = link.next;
    if (link.next) link.next.previous = link.previous;
    else this.#last = link.previous;
    link.previous = undefined;
    link.next = undefined;
    this.#size--;
    return true;
  }

  clear(): void {
    while (this.#first) this.delete(this.#first);
  }

  /**
   * In insertion order. The loop may delete the current member; to delete others while iterating,
   * iterate a copy (a deleted link no longer knows its successor).
   */
  *[Symbol.iterator](): IterableIterator<T> {
    let link = this.#first;
    while (link) {
      const next = link.next;
      yield link.value;
      link = next;
    }
  }
}
