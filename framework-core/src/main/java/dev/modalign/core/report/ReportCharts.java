package dev.modalign.core.report;

import java.awt.Color;
import java.awt.Font;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.AxesChartStyler;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * A report's PNG charts, drawn with XChart. The same numbers give the same bytes: fixed sizes, fonts
 * named by their logical family and size, the root locale for tick labels, and PNGs without a time
 * (ImageIO writes no tIME chunk).
 */
final class ReportCharts {

    static final int WIDTH = 900;
    static final int HEIGHT = 540;

    static {
        // No display: charts are drawn into images only, on servers and in CI alike.
        System.setProperty("java.awt.headless", "true");
    }

    private ReportCharts() {}

    /** One line per method: the mean over seeds of {@code key} at each step. */
    static byte[] curves(String key, String rowsAre, List<TrainingCurve> curves) {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(key + " by " + rowsAre + ", mean over seeds")
                .xAxisTitle("step").yAxisTitle(key).build();
        style(chart.getStyler());
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setXAxisDecimalPattern("0");
        for (TrainingCurve curve : curves) {
            XYSeries series = chart.addSeries(curve.method(), curve.steps(), curve.mean());
            series.setMarker(SeriesMarkers.NONE);
        }
        return png(chart);
    }

    /** One bar per method with a value: the mean, and an error bar of one sample standard deviation. */
    static byte[] bars(String metric, String rowsAre, List<String> methods, List<MetricSummary> summaries,
            MetricDirection direction) {
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT)
                .title(metric + " (" + direction.word() + " is better), mean ± std over seeds")
                .xAxisTitle(rowsAre).yAxisTitle(metric).build();
        style(chart.getStyler());
        chart.getStyler().setLegendVisible(false);
        chart.getStyler().setErrorBarsColor(Color.BLACK);
        if (methods.size() > 4) {
            chart.getStyler().setXAxisLabelRotation(45);
        }
        List<String> names = new ArrayList<>();
        List<Double> means = new ArrayList<>();
        List<Double> errors = new ArrayList<>();
        for (int i = 0; i < methods.size(); i++) {
            MetricSummary summary = summaries.get(i);
            if (!summary.isEmpty()) {
                names.add(methods.get(i));
                means.add(summary.mean());
                errors.add(Double.isNaN(summary.std()) ? 0.0 : summary.std());
            }
        }
        chart.addSeries(metric, names, means, errors);
        return png(chart);
    }

    private static void style(AxesChartStyler styler) {
        styler.setLocale(Locale.ROOT);
        styler.setAntiAlias(true);
        styler.setChartBackgroundColor(Color.WHITE);
        styler.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        styler.setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        styler.setAxisTitleFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        styler.setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        styler.setAnnotationTextFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        styler.setToolTipsEnabled(false);
        // XChart's default pattern drops the leading zero (".07").
        styler.setYAxisDecimalPattern("0.####");
    }

    private static byte[] png(Chart<?, ?> chart) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            BitmapEncoder.saveBitmap(chart, bytes, BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot encode a chart as PNG: " + e.getMessage(), e);
        }
        return bytes.toByteArray();
    }
}
