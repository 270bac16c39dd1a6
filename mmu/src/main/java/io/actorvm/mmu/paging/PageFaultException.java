package io.actorvm.mmu.paging;

/** A read through the page tables met an address without a translation (the message says which and why). */
public final class PageFaultException extends RuntimeException {
    private final PageWalk.Fault fault;

    public PageFaultException(PageWalk.Fault fault) {
        super(fault.toString());
        this.fault = fault;
    }

    public PageWalk.Fault fault() {
        return fault;
    }
}
