package dev.modalign.plugins.webdataset;

import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataException;
import dev.modalign.api.DataRecord;
import dev.modalign.api.DatasetSource;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Samples from WebDataset tar shards, the format open_clip, CLAP and img2dataset write: each sample
 * is the run of consecutive members that share a key, e.g. {@code 000123.jpg}, {@code 000123.txt}
 * and {@code 000123.json}. The shards are indexed, not unpacked: their headers are read once when
 * the source is created (seeking over the contents), and {@link #get} reads a sample's members with
 * positional reads, so the host can shuffle all samples with its seed and read them on any number
 * of threads.
 *
 * <p>A record's fields are named by the members' extensions, lower-cased as WebDataset does:
 * {@code jpg} (byte[]), {@code txt} (String), {@code json} (the JSON text), {@code cls} (a Long
 * where it is an integer). Text extensions (txt, text, transcript, json, jsn) are decoded as UTF-8;
 * integer extensions (cls, cls2, class, count, index, inx, id) become a Long; everything else stays
 * bytes for its modality to decode. The key is everything before the first dot of the member's
 * file name, with its directory; the record's id and group are the key, its origin "shard:key".
 *
 * <p>The host's loader draws a permutation of all samples, which is a better shuffle than the
 * shuffle buffer a streaming reader needs; there is no {@code shuffle_buffer} parameter, since
 * the host reads in its own order and a source cannot impose a windowed one.
 *
 * <pre>{@code
 * data:                  # split, split_fractions, split_seed: the host's keys, hashing each sample's key
 *   train: {source: webdataset, urls: "shards/train-{000000..000099}.tar", split: train,
 *           fields: {image: jpg, text: txt}}
 *   eval:  {source: webdataset, urls: "shards/train-{000000..000099}.tar", split: test,
 *           fields: {image: jpg, text: txt}}
 * }</pre>
 */
public final class WebDatasetSource implements DatasetSource {

    private static final System.Logger LOG = System.getLogger(WebDatasetSource.class.getName());

    /**
     * @param urls the shards, as a path or brace pattern relative to the experiment file's directory
     * @param onError fail on a damaged shard, or skip what cannot be read and count it
     */
    public record Params(
            @Doc("Shard files: a path or brace pattern relative to the experiment file's directory, e.g."
                    + " shards/train-{000000..000099}.tar; {a,b} lists alternatives, '::' joins patterns."
                    + " Uncompressed tar files only") String urls,
            @Doc("On a damaged or truncated shard, or a sample with two members of one extension: fail, or skip"
                    + " the unreadable samples (the rest of a damaged shard) and report how many once")
            @Default("fail") String onError) {

        public Params {
            if (urls == null || urls.isBlank()) {
                throw new InvalidParamException("urls", "is required: the shard files, e.g."
                        + " shards/train-{000000..000009}.tar, relative to the experiment file's directory");
            }
            if (REMOTE.matcher(urls.strip()).find()) {
                throw new InvalidParamException("urls", "names '" + urls + "', which is not a local file: modalign"
                        + " reads local shards only and fetches nothing at run time; copy the shards to disk first");
            }
            try {
                ShardPattern.expand(urls);
            } catch (IllegalArgumentException e) {
                throw new InvalidParamException("urls", "'" + urls + "' " + e.getMessage());
            }
            if (onError == null) {
                onError = "fail";
            }
            onError = onError.strip().toLowerCase(Locale.ROOT);
            if (!onError.equals("fail") && !onError.equals("skip")) {
                throw new InvalidParamException("on_error", "must be fail or skip, found '" + onError + "'");
            }
        }
    }

    /** URLs and WebDataset's pipe: specs, which a local reader cannot open. */
    private static final Pattern REMOTE = Pattern.compile("^(?:[a-zA-Z][a-zA-Z0-9+.-]*://|pipe:)");

    /** WebDataset's base_plus_ext: the key is the path up to the first dot of the file name. */
    private static final Pattern KEY_AND_EXTENSION = Pattern.compile("^((?:.*/|)[^.]+)[.]([^/]*)$");

    private static final Set<String> TEXT_EXTENSIONS = Set.of("txt", "text", "transcript", "json", "jsn");
    private static final Set<String> INTEGER_EXTENSIONS = Set.of("cls", "cls2", "class", "count", "index", "inx", "id");
    private static final Pattern INTEGER = Pattern.compile("[+-]?\\d{1,18}");

    /** Shards kept open at once; reads from others open and close their file each time. */
    static final int MAX_OPEN_SHARDS = 128;

    private final Params params;
    private final String[] shardNames;
    private final Path[] shardPaths;
    private final AtomicReferenceArray<FileChannel> channels;
    private int openChannels;
    private volatile boolean closed;

    private final Index index;
    private final String fingerprint;

    public WebDatasetSource(Params params, ComponentContext context) {
        this.params = params;
        List<String> names = ShardPattern.expand(params.urls());
        Set<Path> seen = new HashSet<>();
        this.shardNames = names.toArray(String[]::new);
        this.shardPaths = new Path[names.size()];
        for (int shard = 0; shard < names.size(); shard++) {
            String name = names.get(shard);
            Path path;
            try {
                path = context.baseDir().resolve(name).toAbsolutePath().normalize();
            } catch (InvalidPathException e) {
                throw new InvalidParamException("urls", "'" + params.urls() + "' expands to '" + name
                        + "', not a valid path: " + e.getMessage());
            }
            if (!Files.isRegularFile(path)) {
                throw new InvalidParamException("urls", "'" + params.urls() + "' expands to " + names.size()
                        + " shard" + (names.size() == 1 ? "" : "s") + ", and there is no file " + path + " (shard '"
                        + name + "'); paths are relative to the experiment file's directory");
            }
            if (!seen.add(path)) {
                throw new InvalidParamException("urls", "'" + params.urls() + "' names the shard " + path
                        + " twice; list each shard once");
            }
            shardPaths[shard] = path;
        }
        this.channels = new AtomicReferenceArray<>(shardPaths.length);

        this.index = new Index(params.onError().equals("skip"), shardPaths);
        long[] sizes = new long[shardPaths.length];
        long[] modified = new long[shardPaths.length];
        for (int shard = 0; shard < shardPaths.length; shard++) {
            scanShard(shard, sizes, modified);
        }
        index.finish();

        if (size() == 0) {
            throw new DataException("webdataset '" + params.urls() + "': no samples in " + shardPaths.length
                    + " shard" + (shardPaths.length == 1 ? "" : "s")
                    + (index.skippedSamples > 0 ? "; all " + index.skippedSamples + " were unreadable (first: "
                                    + index.firstProblem + ")"
                            : index.ignoredMembers > 0 ? "; its " + index.ignoredMembers + " members are not"
                                    + " sample files (e.g. '" + index.firstIgnored + "'), which are named"
                                    + " KEY.EXTENSION, the extension naming the field"
                            : ""));
        }
        if (index.skippedSamples > 0 || index.damagedShards > 0) {
            LOG.log(Level.WARNING, "webdataset ''{0}'': skipped {1} unreadable sample(s){2} (first: {3})",
                    params.urls(), index.skippedSamples, index.damagedShards == 0 ? ""
                            : " and the rest of " + index.damagedShards + " damaged shard(s)", index.firstProblem);
        }
        if (index.ignoredMembers > 0) {
            LOG.log(Level.INFO, "webdataset ''{0}'': ignored {1} member(s) that are not sample files, e.g. ''{2}''",
                    params.urls(), index.ignoredMembers, index.firstIgnored);
        }
        this.fingerprint = "webdataset(urls=" + params.urls() + ", shards=" + shardPaths.length + ", samples="
                + size() + ", sha256="
                + shardsHash(sizes, modified) + ")";
    }

    private void scanShard(int shard, long[] sizes, long[] modified) {
        Path path = shardPaths[shard];
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            sizes[shard] = channel.size();
            modified[shard] = Files.getLastModifiedTime(path).toMillis();
            checkNotCompressed(channel, path);
            index.startShard(shard, path);
            int others = TarScanner.scan(channel, member -> index.add(member));
            index.endShard(others);
        } catch (TarScanner.CorruptTarException e) {
            index.damaged("shard " + path + " " + e.getMessage());
        } catch (IOException e) {
            throw new DataException("webdataset shard " + path + ": cannot read it: " + e.getMessage(), e);
        }
    }

    private static void checkNotCompressed(FileChannel channel, Path path) throws IOException {
        ByteBuffer magic = ByteBuffer.allocate(2);
        channel.read(magic, 0);
        if (magic.position() == 2 && (magic.get(0) & 0xff) == 0x1f && (magic.get(1) & 0xff) == 0x8b) {
            throw new DataException("webdataset shard " + path + " is gzip-compressed; samples are read by their"
                    + " position in the tar file, which a compressed stream does not allow: gunzip the shards"
                    + " (images and audio inside are compressed already)");
        }
    }

    @Override
    public long size() {
        return index.samples;
    }

    /** The sample's key, from the index: splits hash it without reading the sample. */
    @Override
    public String id(long i) {
        return index.sampleKey[(int) i];
    }

    @Override
    public DataRecord get(long i) {
        if (i < 0 || i >= size()) {
            throw new IndexOutOfBoundsException("webdataset '" + params.urls() + "' has " + size() + " samples, asked for " + i);
        }
        int sample = (int) i;
        int shard = index.sampleShard[sample];
        String key = index.sampleKey[sample];
        String origin = shardNames[shard] + ":" + key;
        Map<String, Object> fields = new LinkedHashMap<>();
        for (int member = index.sampleFirst[sample]; member < index.sampleFirst[sample + 1]; member++) {
            String field = index.memberField[member];
            byte[] bytes = read(shard, index.memberOffset[member], index.memberSize[member], origin, field);
            fields.put(field, value(field, bytes, origin, index.memberOffset[member]));
        }
        return new DataRecord(key, key, origin, Collections.unmodifiableMap(fields));
    }

    @Override
    public String fingerprint() {
        return fingerprint;
    }

    /** The samples skipped as unreadable with {@code on_error: skip}. */
    public int skippedSamples() {
        return index.skippedSamples;
    }

    /** Members that belong to no sample: names without an extension, WebDataset's __meta__ files, directories, links. */
    public int ignoredMembers() {
        return index.ignoredMembers;
    }

    @Override
    public void close() {
        closed = true;
        for (int shard = 0; shard < channels.length(); shard++) {
            FileChannel channel = channels.getAndSet(shard, null);
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException e) {
                    LOG.log(Level.DEBUG, "closing " + shardPaths[shard], e);
                }
            }
        }
    }

    private byte[] read(int shard, long offset, long size, String origin, String field) {
        if (size > Integer.MAX_VALUE - 8) {
            throw new DataException(origin + ": member '" + field + "' has " + size + " bytes, more than one record"
                    + " field can hold");
        }
        ByteBuffer buffer = ByteBuffer.allocate((int) size);
        for (int attempt = 0; ; attempt++) {
            FileChannel shared = null;
            FileChannel channel = null;
            try {
                shared = channel(shard);
                channel = shared != null ? shared : FileChannel.open(shardPaths[shard], StandardOpenOption.READ);
                buffer.clear();
                TarScanner.readFully(channel, buffer, offset);
                return buffer.array();
            } catch (ClosedByInterruptException e) {
                throw new DataException(origin + ": interrupted while reading '" + field + "'", e);
            } catch (ClosedChannelException e) {
                // A reader interrupted mid-read closes a FileChannel for every thread; open it again.
                if (closed || attempt >= 2) {
                    throw new DataException(origin + ": the source is closed", e);
                }
                if (shared != null && channels.compareAndSet(shard, shared, null)) {
                    synchronized (channels) {
                        openChannels--;
                    }
                }
            } catch (IOException e) {
                throw new DataException("webdataset shard " + shardPaths[shard] + ": cannot read member '" + field
                        + "' of sample " + origin + " at byte " + offset + " (" + e.getMessage()
                        + "); the shard changed since it was indexed, or the disk failed", e);
            } finally {
                if (shared == null && channel != null) {
                    try {
                        channel.close();
                    } catch (IOException e) {
                        LOG.log(Level.DEBUG, "closing " + shardPaths[shard], e);
                    }
                }
            }
        }
    }

    /** The shard's shared channel, opened on first use; null when too many are open already. */
    private FileChannel channel(int shard) throws IOException {
        FileChannel channel = channels.get(shard);
        if (channel != null) {
            return channel;
        }
        synchronized (channels) {
            channel = channels.get(shard);
            if (channel != null || closed || openChannels >= MAX_OPEN_SHARDS) {
                return channel;
            }
            channel = FileChannel.open(shardPaths[shard], StandardOpenOption.READ);
            channels.set(shard, channel);
            openChannels++;
            return channel;
        }
    }

    private static Object value(String field, byte[] bytes, String origin, long offset) {
        String type = field.substring(field.lastIndexOf('.') + 1);
        boolean integer = INTEGER_EXTENSIONS.contains(type);
        if (!integer && !TEXT_EXTENSIONS.contains(type)) {
            return bytes;
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new DataException(origin + ": member '" + field + "' at byte " + offset + " is not UTF-8 text ("
                    + e.getMessage() + ")", e);
        }
        if (integer) {
            String trimmed = text.strip();
            if (INTEGER.matcher(trimmed).matches()) {
                return Long.parseLong(trimmed.startsWith("+") ? trimmed.substring(1) : trimmed);
            }
        }
        return text;
    }

    private String shardsHash(long[] sizes, long[] modified) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            for (int shard = 0; shard < shardNames.length; shard++) {
                digest.update((shardNames[shard] + "\0" + sizes[shard] + "\0" + modified[shard] + "\n")
                        .getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(digest.digest()).substring(0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }

    /**
     * The samples of all shards, in shard and archive order, as parallel arrays: a sample's members
     * are members sampleFirst[s] to sampleFirst[s + 1] - 1. Samples must be contiguous runs of one
     * key, as WebDataset writes them; a key met again later means a sample was split up, which
     * WebDataset would silently read as two samples, so it is an error here.
     */
    private static final class Index {
        private final boolean skip;
        private final Path[] shardPaths;
        private final Map<String, Integer> keys = new HashMap<>();
        private final Map<String, String> fieldNames = new HashMap<>();

        int samples;
        int[] sampleShard = new int[64];
        int[] sampleFirst = new int[65];
        String[] sampleKey = new String[64];

        int members;
        long[] memberOffset = new long[256];
        long[] memberSize = new long[256];
        String[] memberField = new String[256];

        int skippedSamples;
        int damagedShards;
        int ignoredMembers;
        String firstProblem;
        String firstIgnored;

        private int shard;
        private Path shardPath;
        /** The sample being read, or null; it is committed when the next key starts or the shard ends. */
        private String currentKey;
        private String currentProblem;
        private int currentFirst;

        Index(boolean skip, Path[] shardPaths) {
            this.skip = skip;
            this.shardPaths = shardPaths;
        }

        void startShard(int shard, Path path) {
            this.shard = shard;
            this.shardPath = path;
        }

        void add(TarScanner.Member member) {
            String name = member.name();
            Matcher matcher = KEY_AND_EXTENSION.matcher(name);
            boolean meta = name.indexOf('/') < 0 && name.startsWith("__") && name.endsWith("__");
            if (meta || !matcher.matches()) {
                ignore(name);
                return;
            }
            String key = matcher.group(1);
            String field = fieldNames.computeIfAbsent(matcher.group(2).toLowerCase(Locale.ROOT), f -> f);
            if (!key.equals(currentKey)) {
                commit();
                Integer earlier = keys.putIfAbsent(key, shard);
                if (earlier != null) {
                    throw new DataException("webdataset shard " + shardPath + ": the sample '" + key + "' at byte "
                            + member.headerOffset() + " was met before" + (earlier == shard ? ", earlier in this shard,"
                                    : " in shard " + shardPaths[earlier] + ",")
                            + " with other samples in between; the files of a sample must be adjacent in one shard:"
                            + " write the shards again grouping each sample's files");
                }
                currentKey = key;
                currentFirst = members;
                currentProblem = null;
            }
            for (int m = currentFirst; m < members; m++) {
                if (memberField[m].equals(field) && currentProblem == null) {
                    currentProblem = "shard " + shardPath + ": the sample '" + key + "' has two '" + field
                            + "' members (the second at byte " + member.headerOffset() + ")";
                    if (!skip) {
                        throw new DataException("webdataset " + currentProblem + "; a sample holds one file per"
                                + " extension: fix the shard, or set on_error: skip to skip such samples");
                    }
                }
            }
            ensureMemberCapacity();
            memberOffset[members] = member.dataOffset();
            memberSize[members] = member.size();
            memberField[members] = field;
            members++;
        }

        void endShard(int others) {
            commit();
            ignoredMembers += others;
            if (others > 0 && firstIgnored == null) {
                firstIgnored = "a directory or link in " + shardPath;
            }
        }

        /** Reading the shard stopped at damage: the sample being read may be incomplete, so it is dropped. */
        void damaged(String problem) {
            if (!skip) {
                throw new DataException("webdataset " + problem + "; repair or remove the shard, or set on_error:"
                        + " skip to read the samples before the damage");
            }
            damagedShards++;
            if (currentKey != null) {
                currentProblem = problem;
            }
            if (firstProblem == null) {
                firstProblem = problem;
            }
            commit();
        }

        void finish() {
            sampleFirst[samples] = members;
        }

        private void commit() {
            if (currentKey == null) {
                return;
            }
            if (currentProblem != null) {
                skippedSamples++;
                if (firstProblem == null) {
                    firstProblem = currentProblem;
                }
                members = currentFirst;
            } else {
                ensureSampleCapacity();
                sampleShard[samples] = shard;
                sampleKey[samples] = currentKey;
                sampleFirst[samples] = currentFirst;
                samples++;
            }
            currentKey = null;
            currentProblem = null;
        }

        private void ignore(String name) {
            ignoredMembers++;
            if (firstIgnored == null) {
                firstIgnored = name;
            }
        }

        private void ensureSampleCapacity() {
            if (samples + 1 >= sampleShard.length) {
                int capacity = sampleShard.length * 2;
                sampleShard = Arrays.copyOf(sampleShard, capacity);
                sampleFirst = Arrays.copyOf(sampleFirst, capacity + 1);
                sampleKey = Arrays.copyOf(sampleKey, capacity);
            }
        }

        private void ensureMemberCapacity() {
            if (members == memberOffset.length) {
                int capacity = members * 2;
                memberOffset = Arrays.copyOf(memberOffset, capacity);
                memberSize = Arrays.copyOf(memberSize, capacity);
                memberField = Arrays.copyOf(memberField, capacity);
            }
        }
    }
}
