/** What users can plug into FusedTF: {@link dev.fusedtf.spi.ProbeSupplier}, the probe inputs of the check. */
package dev.fusedtf.spi;
