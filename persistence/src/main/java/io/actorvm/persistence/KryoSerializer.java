package io.actorvm.persistence;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.serializers.ImmutableCollectionsSerializers;
import com.esotericsoftware.kryo.util.Pool;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.serialization.JSerializer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Pekko serializer with Kryo for {@link KryoSerializable} messages, with class registration
 * required: only the classes listed in {@code actorvm.kryo.classes} (in that order, which fixes
 * their wire ids, so every JVM of a cluster must have the same list) can be written or read, so
 * bytes from the wire can never make us instantiate an arbitrary class.
 *
 * <p>Class names are as {@link Class#forName} takes them, or Java source form for arrays and
 * primitives ({@code byte[]}, {@code java.lang.String[]}). Records are serialized through their
 * canonical constructor; the JDK's immutable collections ({@code List.of} etc.) work once their
 * classes are listed ({@code java.util.ImmutableCollections$ListN}, {@code $List12}, ...).
 *
 * <p>Kryo instances are not thread-safe: each call borrows one from a pool.
 */
public final class KryoSerializer extends JSerializer {
    public static final int IDENTIFIER = 7302;
    public static final String CLASSES_PATH = "actorvm.kryo.classes", MODULES_PATH = "actorvm.kryo.modules";
    /** Wire id of the first listed class; ids below are Kryo's defaults (primitives, String). */
    public static final int FIRST_ID = 100;

    /**
     * Wire id of typed actor references ({@code replyTo} fields), written as Pekko's serialization
     * format of the reference; only with an actor system to resolve them in.
     */
    public static final int ACTOR_REF_ID = 99;
    /** The class of every typed ActorRef Pekko hands out (an adapter over the classic reference). */
    private static final String ACTOR_REF_CLASS = "org.apache.pekko.actor.typed.internal.adapter.ActorRefAdapter";

    private final List<Class<?>> classes;
    private final Pool<Kryo> pool;

    public KryoSerializer(ExtendedActorSystem system) {
        this(resolve(configuredClasses(system.settings().config()), system.dynamicAccess().classLoader()), system);
    }

    /**
     * The class names to register, in wire-id order: each module's list under {@code actorvm.kryo.modules}
     * (by module key, sorted, so every JVM with the same modules agrees), then {@code actorvm.kryo.classes}.
     * Modules declare their messages in their own reference.conf; lists do not merge across files, objects do.
     */
    public static List<String> configuredClasses(com.typesafe.config.Config config) {
        List<String> names = new ArrayList<>();
        if (config.hasPath(MODULES_PATH)) {
            com.typesafe.config.Config modules = config.getConfig(MODULES_PATH);
            modules.root().keySet().stream().sorted().forEach(k -> names.addAll(modules.getStringList(k)));
        }
        names.addAll(config.getStringList(CLASSES_PATH));
        return names;
    }

    /** A serializer registering {@code classes} in this order (for use outside an actor system: no actor references). */
    public KryoSerializer(List<Class<?>> classes) {
        this(classes, null);
    }

    private KryoSerializer(List<Class<?>> classes, ExtendedActorSystem system) {
        this.classes = List.copyOf(classes);
        ClassLoader loader = KryoSerializer.class.getClassLoader();
        KryoActorRefSerializer refs = system == null ? null : new KryoActorRefSerializer(system);
        Class<?> refClass = system == null ? null : resolve(ACTOR_REF_CLASS, loader);
        this.pool = new Pool<>(true, false) {
            @Override
            protected Kryo create() {
                Kryo kryo = newKryo(KryoSerializer.this.classes, loader);
                if (refs != null) kryo.register(refClass, refs, ACTOR_REF_ID);
                return kryo;
            }
        };
        pool.free(pool.obtain()); // fail now, at system start, on a bad registration
    }

    public List<Class<?>> registeredClasses() {
        return classes;
    }

    @Override
    public int identifier() {
        return IDENTIFIER;
    }

    @Override
    public boolean includeManifest() {
        return false; // Kryo writes the registered class id itself
    }

    @Override
    public byte[] toBinary(Object o) {
        Kryo kryo = pool.obtain();
        try {
            Output out = new Output(256, -1);
            kryo.writeClassAndObject(out, o);
            return out.toBytes();
        } catch (IllegalArgumentException | KryoException e) {
            throw new IllegalArgumentException("cannot serialize " + (o == null ? "null" : o.getClass().getName())
                    + " with Kryo: " + firstLine(e) + " (every class, including field values' classes, must be listed in "
                    + CLASSES_PATH + ")", e);
        } finally {
            pool.free(kryo);
        }
    }

    @Override
    public Object fromBinaryJava(byte[] bytes, Class<?> manifest) {
        Kryo kryo = pool.obtain();
        try {
            return kryo.readClassAndObject(new Input(bytes));
        } catch (IllegalArgumentException | KryoException e) {
            throw new IllegalArgumentException("cannot deserialize " + bytes.length + " bytes with Kryo: " + firstLine(e), e);
        } finally {
            pool.free(kryo);
        }
    }

    private static Kryo newKryo(List<Class<?>> classes, ClassLoader loader) {
        Kryo kryo = new Kryo();
        kryo.setRegistrationRequired(true);
        kryo.setReferences(false); // messages are trees; no shared or cyclic references
        kryo.setClassLoader(loader);
        ImmutableCollectionsSerializers.addDefaultSerializers(kryo);
        int id = FIRST_ID;
        for (Class<?> c : classes) kryo.register(c, id++);
        return kryo;
    }

    private static final Map<String, Class<?>> PRIMITIVES = Map.of(
            "boolean", boolean.class, "byte", byte.class, "short", short.class, "char", char.class,
            "int", int.class, "long", long.class, "float", float.class, "double", double.class);

    /** Resolves configured class names; an unknown one is a one-line IllegalArgumentException. */
    public static List<Class<?>> resolve(List<String> names, ClassLoader loader) {
        List<Class<?>> out = new ArrayList<>();
        for (String name : names) out.add(resolve(name.strip(), loader));
        return out;
    }

    private static Class<?> resolve(String name, ClassLoader loader) {
        if (name.endsWith("[]")) return resolve(name.substring(0, name.length() - 2), loader).arrayType();
        Class<?> primitive = PRIMITIVES.get(name);
        if (primitive != null) return primitive;
        try {
            return Class.forName(name, false, loader);
        } catch (ClassNotFoundException | LinkageError e) {
            throw new IllegalArgumentException("class '" + name + "' listed in " + CLASSES_PATH + " cannot be loaded: " + e, e);
        }
    }

    private static String firstLine(Throwable e) {
        String m = String.valueOf(e.getMessage());
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
