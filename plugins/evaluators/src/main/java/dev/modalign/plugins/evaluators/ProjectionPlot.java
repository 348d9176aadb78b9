package dev.modalign.plugins.evaluators;

import java.awt.Color;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * A PNG scatter plot of two towers' L2-normalised embeddings projected together onto their first
 * two principal components, one colour per tower, with each tower's centroid marked: the picture
 * of the modality gap of "Mind the Gap: Understanding the Modality Gap in Multi-modal Contrastive
 * Representation Learning" (Liang et al., NeurIPS 2022, Figure 1), where the two modalities sit in
 * separate regions of the sphere.
 *
 * <p>Only this class touches XChart and AWT, so the plugin's other classes load without them. AWT
 * runs headless (no display on a training machine).
 */
final class ProjectionPlot {

    private static final Color FIRST = new Color(31, 119, 180);
    private static final Color SECOND = new Color(255, 127, 14);

    private ProjectionPlot() {}

    /**
     * Writes the plot of paired rows {@code first} and {@code second} to {@code file}.
     *
     * @param maxPairs at most this many pairs are projected and drawn, evenly spaced over the records
     */
    static Path write(Path file, String firstName, float[][] first, String secondName, float[][] second, int maxPairs) {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
        int pairs = Math.min(first.length, maxPairs);
        float[][] points = new float[2 * pairs][];
        for (int p = 0; p < pairs; p++) {
            int record = (int) ((long) p * first.length / pairs);
            points[p] = first[record];
            points[pairs + p] = second[record];
        }
        PrincipalComponents components = PrincipalComponents.of(points, 2);

        XYChart chart = new XYChartBuilder().width(800).height(640)
                .title("Modality gap: " + firstName + " and " + secondName + " (PCA of unit embeddings)")
                .xAxisTitle(axisTitle(1, components.explained()[0]))
                .yAxisTitle(axisTitle(2, components.explained()[1]))
                .build();
        chart.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        chart.getStyler().setMarkerSize(5);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        addTower(chart, firstName, points, 0, pairs, components, FIRST);
        addTower(chart, secondName, points, pairs, pairs, components, SECOND);
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            try (OutputStream out = Files.newOutputStream(file)) {
                BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the projection plot " + file + ": " + e.getMessage(), e);
        }
        return file;
    }

    private static void addTower(XYChart chart, String name, float[][] points, int start, int count,
            PrincipalComponents components, Color colour) {
        double[] xs = new double[count];
        double[] ys = new double[count];
        double[] centroid = new double[2];
        for (int i = 0; i < count; i++) {
            double[] coordinates = components.project(points[start + i]);
            xs[i] = coordinates[0];
            ys[i] = coordinates[1];
            centroid[0] += coordinates[0] / count;
            centroid[1] += coordinates[1] / count;
        }
        XYSeries series = chart.addSeries(name, xs, ys);
        series.setMarker(SeriesMarkers.CIRCLE);
        series.setMarkerColor(new Color(colour.getRed(), colour.getGreen(), colour.getBlue(), 110));
        XYSeries centre = chart.addSeries(name + " centroid", new double[] {centroid[0]}, new double[] {centroid[1]});
        centre.setMarker(SeriesMarkers.DIAMOND);
        centre.setMarkerColor(colour.darker());
    }

    private static String axisTitle(int component, double explained) {
        return String.format(Locale.ROOT, "PC%d (%.0f%% of variance)", component, 100 * explained);
    }
}
