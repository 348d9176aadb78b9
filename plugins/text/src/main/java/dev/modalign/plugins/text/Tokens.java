package dev.modalign.plugins.text;

/** The special token ids both tokenizers share; real tokens start at {@link #FIRST_REAL}. */
final class Tokens {

    static final int PAD = 0;
    static final int CLS = 1;
    static final int MASK = 2;
    static final int UNK = 3;
    static final int FIRST_REAL = 4;

    private Tokens() {}

    static boolean isReal(int id) {
        return id >= FIRST_REAL;
    }
}
