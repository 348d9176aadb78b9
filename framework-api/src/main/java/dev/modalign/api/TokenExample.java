package dev.modalign.api;

/** One tokenised text: token ids, at most the modality's max length. Immutable once built. */
public record TokenExample(int[] ids) {}
