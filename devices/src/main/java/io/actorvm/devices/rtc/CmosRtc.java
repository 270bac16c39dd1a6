package io.actorvm.devices.rtc;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.DeviceMetrics;

import java.time.Clock;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.Arrays;

/**
 * The MC146818 CMOS real-time clock and its 128 bytes of NVRAM at ports 0x70 (index; bit 7 is
 * the NMI mask) and 0x71 (data). Time registers read the host clock (UTC) plus whatever offset
 * the guest set by writing them; the update-in-progress bit never shows, so guests never wait.
 * Binary or BCD and 12/24-hour follow status register B as the guest programs it.
 */
public final class CmosRtc implements BusDevice, io.actorvm.devices.Stateful<CmosRtc.State> {
    public static final int BASE_PORT = 0x70, PORT_COUNT = 2;
    static final int SECONDS = 0x00, MINUTES = 0x02, HOURS = 0x04, WEEKDAY = 0x06, DAY = 0x07, MONTH = 0x08,
            YEAR = 0x09, STATUS_A = 0x0A, STATUS_B = 0x0B, STATUS_C = 0x0C, STATUS_D = 0x0D, CENTURY = 0x32;
    static final int B_24H = 0x02, B_BINARY = 0x04, B_SET = 0x80, D_VALID = 0x80;

    public record State(int index, byte[] nvram, long offsetSeconds) {}

    public record Metrics(long reads, long writes) implements DeviceMetrics {}

    public static final CmosRtcCodec CODEC = new CmosRtcCodec();

    private final Clock clock;
    private final byte[] nvram = new byte[128];
    private int index;
    private long offsetSeconds;
    private long reads, writes;

    public CmosRtc(Clock clock) {
        this.clock = clock;
        nvram[STATUS_A] = 0x26;        // 32.768 kHz time base, 1024 Hz periodic rate
        nvram[STATUS_B] = B_24H;       // 24-hour, BCD, no interrupts
        nvram[STATUS_D] = (byte) D_VALID;
    }

    @Override
    public String name() {
        return "cmos-rtc";
    }

    @Override
    public long read(long offset, int size) {
        if (offset != 1) return index;
        reads++;
        return switch (index) {
            case SECONDS, MINUTES, HOURS, WEEKDAY, DAY, MONTH, YEAR, CENTURY -> timeRegister(index);
            case STATUS_C -> {
                int c = nvram[STATUS_C] & 0xFF;
                nvram[STATUS_C] = 0; // reading C acknowledges interrupts
                yield c;
            }
            default -> nvram[index] & 0xFF;
        };
    }

    @Override
    public void write(long offset, int size, long value) {
        int v = (int) (value & 0xFF);
        if (offset == 0) {
            index = v & 0x7F; // bit 7 masks NMIs; nothing to mask here
            return;
        }
        if (offset != 1) return;
        writes++;
        switch (index) {
            case SECONDS, MINUTES, HOURS, DAY, MONTH, YEAR, CENTURY -> setTimeRegister(index, v);
            case STATUS_C, STATUS_D -> { } // read-only
            default -> nvram[index] = (byte) v;
        }
    }

    private LocalDateTime now() {
        return LocalDateTime.ofEpochSecond(clock.instant().getEpochSecond() + offsetSeconds, 0, ZoneOffset.UTC);
    }

    private int timeRegister(int register) {
        LocalDateTime t = now();
        int b = nvram[STATUS_B];
        int value = switch (register) {
            case SECONDS -> t.getSecond();
            case MINUTES -> t.getMinute();
            case HOURS -> {
                if ((b & B_24H) != 0) yield t.getHour();
                int h = t.getHour() % 12 == 0 ? 12 : t.getHour() % 12;
                yield encode(h, b) | (t.getHour() >= 12 ? 0x80 : 0); // PM flag is outside the BCD digits
            }
            case WEEKDAY -> t.getDayOfWeek().getValue() % 7 + 1; // 1 = Sunday
            case DAY -> t.getDayOfMonth();
            case MONTH -> t.getMonthValue();
            case YEAR -> t.getYear() % 100;
            case CENTURY -> t.getYear() / 100;
            default -> 0;
        };
        return register == HOURS && (b & B_24H) == 0 ? value : encode(value, b);
    }

    private void setTimeRegister(int register, int raw) {
        int b = nvram[STATUS_B];
        int v = (b & B_BINARY) != 0 ? raw : (raw >> 4) * 10 + (raw & 0xF);
        LocalDateTime t = now();
        LocalDateTime wanted;
        try {
            wanted = switch (register) {
                case SECONDS -> t.withSecond(v);
                case MINUTES -> t.withMinute(v);
                case HOURS -> t.withHour(v);
                case DAY -> t.withDayOfMonth(v);
                case MONTH -> t.withMonth(v);
                case YEAR -> t.withYear(t.getYear() / 100 * 100 + v);
                case CENTURY -> t.withYear(v * 100 + t.getYear() % 100);
                default -> t;
            };
        } catch (java.time.DateTimeException e) {
            return; // an impossible date from the guest: ignored, as the chip would keep counting
        }
        offsetSeconds += Duration.between(t, wanted).getSeconds();
    }

    private static int encode(int value, int statusB) {
        return (statusB & B_BINARY) != 0 ? value : ((value / 10) << 4) | (value % 10);
    }

    @Override
    public void restore(State s) {
        index = s.index() & 0x7F;
        System.arraycopy(s.nvram(), 0, nvram, 0, Math.min(s.nvram().length, nvram.length));
        offsetSeconds = s.offsetSeconds();
    }

    @Override
    public State state() {
        return new State(index, Arrays.copyOf(nvram, nvram.length), offsetSeconds);
    }

    @Override
    public Metrics metrics() {
        return new Metrics(reads, writes);
    }

    @Override
    public CmosRtcCodec codec() {
        return CODEC;
    }
}
