/** The modalign runtime: config, plugin loading, composition, training, tracking and the CLI. */
package dev.modalign.core;
