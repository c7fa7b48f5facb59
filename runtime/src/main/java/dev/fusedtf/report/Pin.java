package dev.fusedtf.report;

/**
 * A placeholder replaced by a constant before the rules ran: it is no longer an input of the served or written model.
 *
 * @param name the placeholder's node name
 * @param dtype its dtype, e.g. {@code DT_BOOL}
 * @param value the value, as given
 */
public record Pin(String name, String dtype, String value) {}
