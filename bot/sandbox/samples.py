"""Citizens' posts to forward in the sandbox: what a coordinator finds in a day (all made up)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    id: str
    title: str  # how the page lists it
    text: str
    origin: str = "none"  # none: copied text and link; channel: forwarded from a channel; user: from a person
    origin_name: str = ""
    photos: int = 0  # 1: a photo with the text as its caption; 2+: an album
    minutes_ago: int = 5  # when it was posted (a forward's detection time)


_LONG = (
    "Обращение жителей микрорайона Северный.\n\n"
    + "\n\n".join(
        f"{n}. {text}" for n, text in enumerate((
            "Третью неделю не работает уличное освещение на улицах Садовой, Полевой и в переулке Тихом. "
            "Вечером дети возвращаются из школы и секций в полной темноте, машины ездят без тротуаров.",
            "На перекрёстке Садовой и Школьной провалился асфальт, яма заполнена водой, её не видно. "
            "За неделю в ней пробили колёса не меньше пяти машин, одна — скорая помощь.",
            "Контейнерную площадку у дома 17 не убирают с понедельника, мусор разносит ветер по детской площадке, "
            "появились крысы. Управляющая компания отвечает, что это не их зона.",
            "Автобус № 4 по выходным ходит раз в два часа вместо часа, расписание на остановках старое, "
            "люди стоят на морозе. Диспетчер трубку не берёт.",
            "В поликлинике на Северном нет записи к педиатру на ближайшие три недели, талоны выдают "
            "только по живой очереди с шести утра.",
            "Просим администрацию ответить по каждому пункту, назвать сроки и ответственных, а не переслать "
            "обращение из отдела в отдел, как было в прошлый раз. Под обращением подписались 146 жителей.",
        ), start=1)
    )
    + "\n\nhttps://vk.com/wall-217364589_1777"
)

SAMPLES = (
    Sample("vk", "ВКонтакте: нет горячей воды",
           "Жители дома № 14 по ул. Ленина третий день без горячей воды, в управляющей компании трубку не берут. "
           "Когда дадут воду?\nhttps://vk.com/wall-217364589_1542"),
    Sample("ok", "Одноклассники: разбита остановка",
           "На остановке «Школьная» разбит павильон, осколки на тротуаре, дети ходят мимо каждый день.\n"
           "https://ok.ru/group/70000001234567/topic/155512345"),
    Sample("governor", "Телеграм Губернатора: ямы на въезде",
           "Жители Изобильного жалуются на ямы на въезде в город со стороны трассы. Поручаю главе округа "
           "разобраться и доложить о сроках ремонта.",
           origin="channel", origin_name="Губернатор края (песочница)", minutes_ago=10),
    Sample("long", "Длинный пост: шесть жалоб сразу", _LONG, minutes_ago=15),
    Sample("hostile", "Пост с HTML: <script> и теги",
           "<script>window.__xss = 1; alert('xss')</script><b>СРОЧНО!!!</b> Во дворе & на площадке сломаны "
           "качели <img src=x onerror=\"window.__xss = 2\"> — кто ответит?! https://vk.com/wall-1_2",
           origin="user", origin_name="Житель (скрыл профиль)"),
    Sample("album", "Фото: затоплен подвал (альбом)",
           "Подвал дома № 5 по ул. Мира затоплен, запах по всему подъезду. Фото прилагаю.\n"
           "https://vk.com/wall-217364589_1600", photos=2),
)


def sample(sample_id: str) -> Sample:
    for s in SAMPLES:
        if s.id == sample_id:
            return s
    raise KeyError(sample_id)


def placeholder_photo(index: int, width: int = 320, height: int = 240) -> bytes:
    """A small real PNG (a coloured gradient), so the page shows a picture where a citizen's photo would be."""
    r0, g0, b0 = ((70, 130, 180), (120, 160, 90), (190, 120, 70), (130, 100, 170))[index % 4]
    rows = []
    for y in range(height):
        shade = y * 80 // height
        row = bytearray([0])  # filter: none
        for x in range(width):
            light = (x * 60 // width) - shade
            row += bytes((max(0, min(255, r0 + light)), max(0, min(255, g0 + light)), max(0, min(255, b0 + light))))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
            + chunk(b"IEND", b""))
