/**
 * JDK Flight Recorder events of the VMM: a sample of the VM exits handled (with the time each
 * took), snapshots, restores and device errors. They cost nothing unless a recording enables them
 * ({@code ./actorvm run --jfr FILE}, or any JFR recording of the JVM that embeds actorvm); read a
 * recording with JDK Mission Control, {@code jfr print --events 'actorvm.*' FILE} or
 * {@code jdk.jfr.consumer}.
 */
package io.actorvm.vmm.actors.jfr;
