/**
 * The {@code fusedtf} command line: {@code inspect} (what would fold), {@code verify} (fold, check and report,
 * with an exit code) and {@code demo} (the demo models end to end). Reports go to stdout, as text or as the JSON
 * of {@link dev.fusedtf.FoldReport#toJson()}; logs and progress go to stderr.
 */
package dev.fusedtf.cli;
