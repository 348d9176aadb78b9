package dev.modalign.plugins.datasets;

import java.awt.Shape;
import java.awt.geom.Area;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Path2D;
import java.awt.geom.Rectangle2D;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * What one {@link ShapesSource} record shows: a shape's colour, kind, position and size, the words
 * that name them, and the outline that draws them. Captions always name all four attributes, so a
 * caption is true to its image whichever wording is drawn.
 */
record ShapeScene(Colour colour, Kind kind, Position position, Size size) {

    /** The palette, far enough apart (at least 100 in RGB distance) to stay apart after jitter and noise. */
    enum Colour {
        RED(225, 40, 40),
        GREEN(40, 200, 60),
        BLUE(50, 90, 235),
        YELLOW(240, 230, 50),
        PURPLE(150, 60, 205),
        ORANGE(255, 135, 0),
        WHITE(240, 240, 240),
        CYAN(40, 210, 225);

        final int red;
        final int green;
        final int blue;

        Colour(int red, int green, int blue) {
            this.red = red;
            this.green = green;
            this.blue = blue;
        }

        String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** The shape drawn; its ordinal is the record's {@code label}. */
    enum Kind {
        CIRCLE,
        SQUARE,
        TRIANGLE,
        CROSS,
        RING;

        String word() {
            return name().toLowerCase(Locale.ROOT);
        }

        /**
         * The outline of this shape centred on (x, y) with nominal radius r. Every outline's area
         * centroid is (x, y), so "the shape is in the top left" means its pixels' centroid is there.
         */
        Shape outline(double x, double y, double r) {
            return switch (this) {
                case CIRCLE -> new Ellipse2D.Double(x - r, y - r, 2 * r, 2 * r);
                // A side of 1.7 r keeps the square's area close to the circle's.
                case SQUARE -> new Rectangle2D.Double(x - 0.85 * r, y - 0.85 * r, 1.7 * r, 1.7 * r);
                case TRIANGLE -> triangle(x, y, 1.25 * r);
                case CROSS -> {
                    double halfWidth = 0.3 * r;
                    Area cross = new Area(new Rectangle2D.Double(x - r, y - halfWidth, 2 * r, 2 * halfWidth));
                    cross.add(new Area(new Rectangle2D.Double(x - halfWidth, y - r, 2 * halfWidth, 2 * r)));
                    yield cross;
                }
                case RING -> {
                    Area ring = new Area(new Ellipse2D.Double(x - r, y - r, 2 * r, 2 * r));
                    double inner = 0.55 * r;
                    ring.subtract(new Area(new Ellipse2D.Double(x - inner, y - inner, 2 * inner, 2 * inner)));
                    yield ring;
                }
            };
        }

        /** An equilateral triangle pointing up, whose centroid is its centre (x, y). */
        private static Shape triangle(double x, double y, double circumradius) {
            Path2D.Double triangle = new Path2D.Double();
            for (int vertex = 0; vertex < 3; vertex++) {
                double angle = Math.toRadians(-90 + 120 * vertex);
                double vertexX = x + circumradius * Math.cos(angle);
                double vertexY = y + circumradius * Math.sin(angle);
                if (vertex == 0) {
                    triangle.moveTo(vertexX, vertexY);
                } else {
                    triangle.lineTo(vertexX, vertexY);
                }
            }
            triangle.closePath();
            return triangle;
        }
    }

    /**
     * Where the shape's centre lies, as fractions of the image side. The quadrant centres (0.27,
     * 0.73) and the image centre (0.5) are 0.23 apart, so with a jitter of at most {@link
     * #JITTER} the regions never meet.
     */
    enum Position {
        TOP_LEFT(0.27, 0.27),
        TOP_RIGHT(0.73, 0.27),
        BOTTOM_LEFT(0.27, 0.73),
        BOTTOM_RIGHT(0.73, 0.73),
        CENTRE(0.5, 0.5);

        /** The largest offset of a shape's centre from its region's centre, as a fraction of the side. */
        static final double JITTER = 0.06;

        final double x;
        final double y;

        Position(double x, double y) {
            this.x = x;
            this.y = y;
        }

        String words() {
            return name().toLowerCase(Locale.ROOT).replace('_', ' ');
        }

        /** The position as a caption places it: "in the top left", "at the centre". */
        String where() {
            return (this == CENTRE ? "at the " : "in the ") + words();
        }
    }

    /** The nominal radius as a fraction of the image side; each record varies it by up to 10%. */
    enum Size {
        SMALL(0.11),
        LARGE(0.21);

        static final double JITTER = 0.10;

        final double radius;

        Size(double radius) {
            this.radius = radius;
        }

        String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * Caption wordings. Each names size, colour, shape and position; the first is the one wording
     * used when templates are off.
     */
    static final List<String> TEMPLATES = List.of(
            "a {size} {colour} {shape} {where}",
            "{size} {colour} {shape}, {position}",
            "a picture of a {size} {colour} {shape} {where}",
            "there is a {size} {colour} {shape} {where}",
            "a {colour} {shape}, {size}, {where}",
            "{position}: a {size} {colour} {shape}",
            "a {size} {shape}, coloured {colour}, {where}",
            "an image showing a {size} {colour} {shape} {where}");

    /** The number of distinct scenes: 8 colours x 5 shapes x 5 positions x 2 sizes. */
    static final int COMBINATIONS =
            Colour.values().length * Kind.values().length * Position.values().length * Size.values().length;

    /** Draws the four attributes, each uniformly. */
    static ShapeScene random(Random rng) {
        Colour colour = pick(Colour.values(), rng);
        Kind kind = pick(Kind.values(), rng);
        Position position = pick(Position.values(), rng);
        Size size = pick(Size.values(), rng);
        return new ShapeScene(colour, kind, position, size);
    }

    private static <T> T pick(T[] values, Random rng) {
        return values[rng.nextInt(values.length)];
    }

    /**
     * The canonical attribute tuple, e.g. "large-red-circle-top left": records with the same
     * content are the same item for retrieval.
     */
    String group() {
        return size.word() + "-" + colour.word() + "-" + kind.word() + "-" + position.words();
    }

    /** The caption in wording {@code template} (an index into {@link #TEMPLATES}). */
    String caption(int template) {
        return TEMPLATES.get(template)
                .replace("{size}", size.word())
                .replace("{colour}", colour.word())
                .replace("{shape}", kind.word())
                .replace("{where}", position.where())
                .replace("{position}", position.words())
                // "an orange circle", not "a orange circle".
                .replaceAll("\\b([Aa]) (?=[aeiou])", "$1n ");
    }
}
