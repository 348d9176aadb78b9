/**
 * {@code modalign bench}: the framework's real training step timed on standard configurations, beside
 * a PyTorch eager reference of the same models measured in the same invocation, and retrieval over
 * large embedding sets beside the matrix product it is made of.
 */
package dev.modalign.core.bench;
