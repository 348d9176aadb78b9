package dev.modalign.plugins.protoclip;

import dev.modalign.clustering.KMeans;

/**
 * The prototypes of one clustering round, plain Java arrays (state of the loss, not parameters).
 *
 * @param imageCentroids C_I [K][D], the k-means centroids of the image memory
 * @param textCentroids C_T [K][D], those of the text memory
 * @param imageStudent S_I [K][D], what an image's prototype logits are taken against: one row per TEXT
 *     prototype (with back translation the image-space mean of each text cluster, else C_T)
 * @param textStudent S_T [K][D], one row per IMAGE prototype (the text-space mean of each image cluster,
 *     else C_I)
 * @param imageTeacher [K][K], row k = softmax(C_I[k] C_I^T / tau_teacher): the soft assignment of a
 *     sample in image cluster k, the target of its caption's distribution
 * @param textTeacher [K][K], the same for the text clusters
 */
record Prototypes(float[][] imageCentroids, float[][] textCentroids, float[][] imageStudent, float[][] textStudent,
        float[][] imageTeacher, float[][] textTeacher) {

    /** Prototypes with the teachers' soft assignments computed from the centroids. */
    static Prototypes of(float[][] imageCentroids, float[][] textCentroids, float[][] imageStudent,
            float[][] textStudent, double teacherTemperature) {
        return new Prototypes(imageCentroids, textCentroids, imageStudent, textStudent,
                teacher(imageCentroids, teacherTemperature), teacher(textCentroids, teacherTemperature));
    }

    /**
     * The prototypes of a clustering of paired memories: row i of {@code images} and of {@code texts}
     * come from one record. With back translation (the paper's PBT) the image student of text cluster k
     * is the mean of the images whose captions fell in k, and the other way round; a cluster without
     * members (possible only with fewer distinct points than clusters) gets a zero row.
     */
    static Prototypes fromClustering(KMeans.Result imageClusters, KMeans.Result textClusters, float[][] images,
            float[][] texts, boolean backTranslation, double teacherTemperature) {
        float[][] imageStudent = backTranslation
                ? groupMeans(images, textClusters.labels(), textClusters.centroids().length)
                : textClusters.centroids();
        float[][] textStudent = backTranslation
                ? groupMeans(texts, imageClusters.labels(), imageClusters.centroids().length)
                : imageClusters.centroids();
        return of(imageClusters.centroids(), textClusters.centroids(), imageStudent, textStudent, teacherTemperature);
    }

    int count() {
        return imageCentroids.length;
    }

    /** Row k: the mean of the rows whose label is k, zeros where none. */
    static float[][] groupMeans(float[][] rows, int[] labels, int groups) {
        int dim = rows[0].length;
        double[][] sums = new double[groups][dim];
        int[] counts = new int[groups];
        for (int i = 0; i < rows.length; i++) {
            counts[labels[i]]++;
            for (int j = 0; j < dim; j++) {
                sums[labels[i]][j] += rows[i][j];
            }
        }
        float[][] means = new float[groups][dim];
        for (int k = 0; k < groups; k++) {
            for (int j = 0; j < dim && counts[k] > 0; j++) {
                means[k][j] = (float) (sums[k][j] / counts[k]);
            }
        }
        return means;
    }

    /** Row k = softmax over k' of C_k . C_k' / temperature, in double precision. */
    private static float[][] teacher(float[][] centroids, double temperature) {
        int k = centroids.length;
        float[][] table = new float[k][k];
        for (int row = 0; row < k; row++) {
            double[] logits = new double[k];
            double peak = Double.NEGATIVE_INFINITY;
            for (int column = 0; column < k; column++) {
                double dot = 0;
                for (int j = 0; j < centroids[row].length; j++) {
                    dot += (double) centroids[row][j] * centroids[column][j];
                }
                logits[column] = dot / temperature;
                peak = Math.max(peak, logits[column]);
            }
            double total = 0;
            for (int column = 0; column < k; column++) {
                logits[column] = Math.exp(logits[column] - peak);
                total += logits[column];
            }
            for (int column = 0; column < k; column++) {
                table[row][column] = (float) (logits[column] / total);
            }
        }
        return table;
    }
}
