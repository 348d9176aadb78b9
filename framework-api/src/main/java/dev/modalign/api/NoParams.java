package dev.modalign.api;

/** The parameter record of a component that takes no parameters. */
public record NoParams() {}
