/**
 * What FusedTF did to a model and how it checked it: {@link dev.fusedtf.report.FoldReport} with its folds, rewrites,
 * skips (each with a {@link dev.fusedtf.report.SkipCode}), pins and {@link dev.fusedtf.report.CheckResult}. Plain
 * immutable records; {@link dev.fusedtf.report.FoldReport#toJson()} is the stable JSON contract.
 */
package dev.fusedtf.report;
