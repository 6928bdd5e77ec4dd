"""Coverage of the shipped gazetteer and topics: the people, places and stories of the war
2022–2025 are recognised in every core language and script (with inflections), articles about a
story get its topic in more than one language while look-alikes do not, and queries in English,
German and French recognise the topic (that is how search reaches coverage in other languages)."""

from __future__ import annotations

import pytest

from indexing.enrich import Gazetteer, TopicSet, expand_query

# (entity id, a short sentence in one language/script naming it, often inflected)
ENTITY_MENTIONS: list[tuple[str, str]] = [
    # places
    ("avdiivka", "Russian forces captured Avdiivka in February."),
    ("avdiivka", "Die Kämpfe um Awdijiwka dauern an."),
    ("avdiivka", "Les combats font rage à Avdiïvka."),
    ("avdiivka", "Бої точаться в Авдіївці та довкола неї."),
    ("avdiivka", "Российские войска вошли в Авдеевку."),
    ("pokrovsk", "The road to Pokrovsk is under fire."),
    ("pokrovsk", "Die Lage in Pokrowsk ist kritisch."),
    ("pokrovsk", "L'armée russe avance vers Pokrovsk."),
    ("pokrovsk", "Ситуація під Покровськом складна."),
    ("pokrovsk", "Бои идут на окраинах Покровска."),
    ("kherson", "Explosions were heard in Kherson."),
    ("kherson", "Beschuss auf Cherson am Morgen."),
    ("kherson", "Херсонщину знову обстріляли."),
    ("kherson", "Удар по Херсону унес жизни двух человек."),
    ("zaporizhzhia", "Eine Rakete traf Saporischschja."),
    ("zaporizhzhia", "Frappe russe sur Zaporijia."),
    ("zaporizhzhia", "Вибухи у Запоріжжі."),
    ("zaporizhzhia", "Удар по Запорожской области."),
    ("bucha", "Bilder aus Butscha gingen um die Welt."),
    ("bucha", "Le massacre de Boutcha."),
    ("bucha", "Трагедія в Бучі."),
    ("bucha", "События в Буче."),
    ("irpin", "Residents returned to Irpin."),
    ("irpin", "Відбудова Ірпеня триває."),
    ("irpin", "Разрушения в Ирпене."),
    ("kryvyi-rih", "Raketenangriff auf Krywyj Rih."),
    ("kryvyi-rih", "Удар по Кривому Розі."),
    ("kryvyi-rih", "Ракета попала в Кривой Рог."),
    ("kerch", "Der Hafen von Kertsch wurde getroffen."),
    ("kerch", "Взрывы в Керчи."),
    ("transnistria", "Russische Soldaten in Transnistrien."),
    ("transnistria", "Ситуація в Придністров'ї."),
    ("transnistria", "Напряженность в Приднестровье."),
    ("jeddah", "Gespräche in Dschidda."),
    ("jeddah", "Des pourparlers à Djeddah."),
    ("jeddah", "Переговори в Джидді завершилися."),
    ("jeddah", "Переговоры в Джидде."),
    ("istanbul", "Переговори у Стамбулі."),
    ("istanbul", "Делегации прибыли в Стамбул."),
    ("engels", "Drones hit the Engels air base."),
    ("engels", "Взрывы в Энгельсе."),
    ("sea-of-azov", "Schiffe im Asowschen Meer."),
    ("snake-island", "Ukraine retook Snake Island."),
    ("snake-island", "Die Schlangeninsel wurde befreit."),
    ("snake-island", "ЗСУ повернули острів Зміїний."),
    # people
    ("vitali-klitschko", "Bürgermeister Klitschko warnte."),
    ("vitali-klitschko", "Віталій Кличко заявив."),
    ("vitali-klitschko", "Мэр Киева Виталий Кличко."),
    ("maria-zakharova", "Sacharowa sagte am Donnerstag."),
    ("maria-zakharova", "Заява Захарової."),
    ("maria-zakharova", "Слова Марии Захаровой."),
    ("steve-witkoff", "Witkoff met Putin in Moscow."),
    ("steve-witkoff", "Зустріч з Віткоффом."),
    ("steve-witkoff", "Визит Уиткоффа в Москву."),
    ("maria-lvova-belova", "Haftbefehl gegen Lwowa-Belowa."),
    ("maria-lvova-belova", "Mandat d'arrêt contre Maria Lvova-Belova."),
    ("maria-lvova-belova", "Ордер на арешт Львової-Бєлової."),
    ("maria-lvova-belova", "Ордер на арест Львовой-Беловой."),
    ("vladimir-medinsky", "Medinski führte die Delegation."),
    ("vladimir-medinsky", "Делегацію РФ очолив Мединський."),
    ("vladimir-medinsky", "Делегацию возглавил Мединский."),
    ("dmytro-lubinets", "Le médiateur Dmytro Loubinets."),
    ("dmytro-lubinets", "За словами Лубінця."),
    ("ramzan-kadyrov", "Kadyrows Truppen."),
    ("ramzan-kadyrov", "Кадирова бійці."),
    ("ramzan-kadyrov", "Бойцы Кадырова."),
    ("jd-vance", "Vance criticised Zelensky."),
    ("jd-vance", "Суперечка з Венсом."),
    ("jd-vance", "Вэнс заявил."),
    ("keith-kellogg", "Sondergesandter Kellogg."),
    ("keith-kellogg", "Зустріч із Келлогом."),
    ("yevgeny-prigozhin", "Prigoschins Söldner."),
    ("yevgeny-prigozhin", "Мятеж Пригожина."),
    # organisations
    ("ukraine-defense-contact-group", "Treffen der Ramstein-Gruppe."),
    ("ukraine-defense-contact-group", "Засідання у форматі Рамштайн."),
    ("black-sea-fleet", "Angriff auf die Schwarzmeerflotte."),
    ("black-sea-fleet", "Удар по Чорноморському флоту."),
    ("black-sea-fleet", "Корабль Черноморского флота."),
    ("russian-defence-ministry", "Міноборони РФ заявило."),
    ("russian-defence-ministry", "В Минобороны России сообщили."),
    ("icc", "Міжнародного кримінального суду."),
    ("icc", "Haftbefehl des Internationalen Strafgerichtshofs."),
]


@pytest.mark.parametrize(("entity", "text"), ENTITY_MENTIONS)
def test_new_entities_in_every_language_and_script(gazetteer: Gazetteer, entity: str, text: str) -> None:
    assert entity in [m.id for m in gazetteer.find(text)]


def test_new_entities_do_not_fire_on_look_alike_words(gazetteer: Gazetteer) -> None:
    text = (
        "Die Oleander blühen. Le chef prépare un plat. Купили изюм и орехи на рынке. "
        "Малюк спить у візку. Оленья ферма на севере. Бабушка купила крынку молока. "
        "Кошти за рахунок коштом бюджету. Saldo des Kontos. The waltz and the Patriot Act."
    )
    found = {m.id for m in gazetteer.find(text)}
    # Изюм is also the word for raisins and Кринки for jugs: accepted ambiguities of town names
    assert found <= {"izium", "krynky"}, found


# topic -> (two articles in different languages, one look-alike). Articles are (title, body).
Article = tuple[str, str]
TOPIC_CASES: dict[str, tuple[Article, Article, Article]] = {
    "kakhovka-dam": (
        ("Kakhovka dam destroyed", "The Kakhovka dam in southern Ukraine was blown up; floods hit Kherson."),
        ("Підрив Каховської ГЕС", "Росія підірвала Каховську ГЕС, Херсонщину затопило."),
        ("Shelling of Nova Kakhovka", "Russian forces shelled Nova Kakhovka again; two houses burned, Kherson officials said."),
    ),
    "grain-corridor": (
        ("Russland kündigt das Getreideabkommen", "Moskau steigt aus dem Getreideabkommen aus; Frachter im Schwarzen Meer warten vor Odessa."),
        ("Зерновий коридор працює", "Перші судна з зерном вийшли з Одеси через морський коридор у Чорному морі."),
        ("Polish farmers block the border", "Polish farmers protested against Ukrainian grain imports and blocked trucks at the border."),
    ),
    "black-sea-fleet-attacks": (
        ("Sea drones hit Russian warship", "Ukrainian naval drones struck a Russian landing ship near Sevastopol in Crimea; the ship was damaged."),
        ("Морские дроны атаковали корабль", "Морские дроны атаковали корабль Черноморского флота в Новороссийске, корабль поврежден."),
        ("Houthis hit a tanker", "Houthi forces hit a tanker in the Red Sea with naval drones; the vessel was damaged."),
    ),
    "crimean-bridge": (
        ("Explosion on the Crimean Bridge", "Traffic on the Crimean Bridge was halted after an explosion damaged the bridge."),
        ("Вибух на Кримському мосту", "Кримський міст знову пошкоджено, рух мостом перекрито."),
        ("Bridge closed in Kyiv", "A bridge in Kyiv was closed for repairs after floods in the Dnipro, city officials said."),
    ),
    "mobilisation": (
        ("Putin ordnet Teilmobilmachung an", "Russland beginnt mit der Mobilisierung von 300.000 Reservisten; Männer fliehen über die Grenze."),
        ("Мобілізація в Україні", "Верховна Рада ухвалила закон про мобілізацію, ТЦК надсилатимуть повістки онлайн. Україна знижує мобілізаційний вік."),
        ("Mobilisation contre la réforme des retraites", "Les syndicats appellent à une nouvelle mobilisation ; la grève reconduite. Le gouvernement parle aussi de l'Ukraine."),
    ),
    "war-crimes": (
        ("War crimes in Bucha", "Investigators documented war crimes in Bucha, Ukraine: a mass grave and summary executions of civilians."),
        ("Военные преступления в Украине", "Комиссия ООН зафиксировала военные преступления российских войск в Украине, в том числе массовые захоронения."),
        ("War crimes probe in Gaza", "Israel denies war crimes in Gaza; Hamas accused of war crimes too. Russia called for a ceasefire."),
    ),
    "icc-arrest-warrants": (
        ("ICC issues arrest warrant for Putin", "The International Criminal Court issued an arrest warrant for Vladimir Putin over deported children."),
        ("Mandat d'arrêt de la CPI contre Poutine", "La Cour pénale internationale a émis un mandat d'arrêt contre Vladimir Poutine."),
        ("Haftbefehl gegen Netanjahu", "Der Internationale Strafgerichtshof erließ Haftbefehl gegen Netanjahu und Gallant."),
    ),
    "deportation-of-children": (
        ("Deported Ukrainian children", "Russia has deported thousands of Ukrainian children; only a few hundred children were returned to Ukraine."),
        ("Депортація українських дітей", "Росія депортувала тисячі українських дітей, Україна повернула лише кількасот дітей. Львова-Бєлова причетна."),
        ("Children deported at the US border", "ICE deported migrant children at the border, immigration lawyers said; asylum seekers protested. Russia was not mentioned by the Ukraine envoy."),
    ),
    "wagner-mutiny": (
        ("Wagner mutiny: Prigozhin marches on Moscow", "Yevgeny Prigozhin launched an armed rebellion; the Wagner mutiny ended within a day."),
        ("Мятеж Пригожина", "Мятеж ЧВК Вагнер: колонны двинулись на Москву, Пригожин остановил марш на Москву."),
        ("Richard Wagner festival", "The Bayreuth festival opened with a new Wagner production; the audience cheered."),
    ),
    "prigozhin-death": (
        ("Prigozhin killed in plane crash", "Yevgeny Prigozhin's private jet crashed north of Moscow; the Wagner chief died in the plane crash."),
        ("Пригожин погиб в авиакатастрофе", "Самолет Пригожина разбился в Тверской области; авиакатастрофа унесла жизни главы Вагнера."),
        ("Azerbaijan Airlines plane crash", "An Azerbaijan Airlines plane crashed in Kazakhstan; Russia's air defence was blamed for the plane crash."),
    ),
    "fighter-jets": (
        ("First F-16s arrive in Ukraine", "Ukraine received its first F-16 fighter jets from Denmark and the Netherlands; pilots trained for months."),
        ("Erste F-16 in der Ukraine", "Die ersten F-16-Kampfjets sind in der Ukraine eingetroffen. Weitere F-16 sollen folgen."),
        ("Taiwan buys more F-16s", "Taiwan is buying more F-16 fighter jets from the US amid tension with China; the F-16 deal is worth billions."),
    ),
    "glide-bomb-attacks": (
        ("Russia pounds Kharkiv with glide bombs", "Russian aircraft dropped glide bombs on Kharkiv; KABs hit residential buildings."),
        ("Удари КАБами по Харкову", "Росіяни скинули керовані авіабомби на Харків, КАБи влучили в житлові будинки."),
        ("Drone attack on Kharkiv", "Russia attacked Kharkiv with drones overnight, Ukraine's air force said."),
    ),
    "long-range-strikes-inside-russia": (
        ("Ukraine fires ATACMS into Russia", "Ukraine used US-made ATACMS missiles to strike deep inside Russia for the first time; long-range missiles hit Bryansk."),
        ("Frappes à longue portée", "L'Ukraine a utilisé des missiles à longue portée SCALP contre des cibles en Russie."),
        ("Scholz rejects Taurus for Brazil", "Taurus is the name of a Brazilian gun maker; Scholz visited Brasilia on Monday."),
    ),
    "oreshnik-missile": (
        ("Russia fires Oreshnik missile at Dnipro", "Putin said Russia fired a new Oreshnik missile at Dnipro in Ukraine."),
        ("Удар «Орешником» по Днепру", "Россия нанесла удар по Днепру ракетой «Орешник», заявил Путин."),
        ("Орешник в саду", "Как вырастить орешник и собрать фундук: советы садоводам из России."),
    ),
    "missile-strikes": (
        ("Massive missile attack on Kyiv", "Russia launched a missile attack on Kyiv with ballistic missiles and Kinzhal hypersonic missiles."),
        ("Ракетний удар по Києву", "Росія завдала ракетного удару по Києву балістичними ракетами «Іскандер»."),
        ("North Korea fires ICBM", "North Korea fired an ICBM into the Sea of Japan; the intercontinental ballistic missile test drew condemnation from Russia's rivals."),
    ),
    "annexation-referendums": (
        ("Sham referendums in occupied Ukraine", "Russia staged sham referendums in Donetsk, Luhansk, Kherson and Zaporizhzhia before the annexation."),
        ("Псевдореферендуми на окупованих територіях", "Росія провела псевдореферендуми на окупованих територіях Херсонщини та Запоріжжя, щоб анексувати їх."),
        ("Moldova votes in EU referendum", "Moldova held a referendum on EU membership; Russia was accused of meddling."),
    ),
    "minerals-deal": (
        ("US and Ukraine sign minerals deal", "Ukraine and the United States signed the minerals deal; the rare earths deal creates a joint fund."),
        ("Rohstoffabkommen unterzeichnet", "Die Ukraine und die USA haben das Rohstoffabkommen unterzeichnet, Selenskyj sprach von einem fairen Deal."),
        ("US strikes minerals deal with Congo", "The US signed a minerals deal with Congo; the rare earths deal follows talks with Australia."),
    ),
    "istanbul-talks": (
        ("Talks in Istanbul", "Russian and Ukrainian delegations met in Istanbul; the talks in Istanbul produced a prisoner swap. Medinsky led Russia's delegation."),
        ("Переговоры в Стамбуле", "Делегации России и Украины провели переговоры в Стамбуле, Мединский возглавил делегацию."),
        ("Iran nuclear talks in Istanbul", "Iran and European powers held nuclear talks in Istanbul on Friday."),
    ),
    "saudi-talks": (
        ("US and Ukraine hold talks in Jeddah", "US and Ukrainian delegations met in Jeddah; after the talks in Jeddah Ukraine backed a ceasefire."),
        ("Gespräche in Riad", "In Riad trafen sich Delegationen der USA und Russlands zu Gesprächen über die Ukraine; die Gespräche in Riad dauerten Stunden."),
        ("Formula One in Jeddah", "Verstappen won the Saudi Arabian Grand Prix in Jeddah on Sunday."),
    ),
    "trump-putin-summit": (
        ("Trump and Putin meet in Alaska", "Donald Trump and Vladimir Putin held a summit in Anchorage, Alaska; the Alaska summit ended without a deal on Ukraine."),
        ("Саммит на Аляске", "Трамп и Путин провели саммит на Аляске, встреча в Анкоридже длилась три часа."),
        ("Trump visits Alaska oil fields", "Donald Trump visited Alaska to promote oil drilling; no meeting was planned."),
    ),
    "security-guarantees": (
        ("Coalition of the willing meets in Paris", "The coalition of the willing discussed security guarantees for Ukraine and a reassurance force."),
        ("Коаліція охочих", "Лідери коаліції охочих обговорили гарантії безпеки для України та миротворчий контингент."),
        ("UNIFIL peacekeepers in Lebanon", "UNIFIL peacekeepers in Lebanon came under fire; Russia's envoy spoke at the UN."),
    ),
    "frozen-russian-assets": (
        ("EU to use frozen Russian assets", "The EU agreed to use frozen Russian assets held at Euroclear for a reparations loan to Ukraine."),
        ("Заморожені російські активи", "ЄС погодив використання заморожених російських активів для репараційного кредиту Україні."),
        ("Frozen food prices rise", "Prices of frozen food rose in Russia this winter, retailers said."),
    ),
    "shadow-fleet": (
        ("Sanctions on Russia's shadow fleet", "The EU sanctioned 100 tankers of Russia's shadow fleet carrying Russian oil."),
        ("Schattenflotte in der Ostsee", "Ein Tanker der russischen Schattenflotte beschädigte ein Kabel in der Ostsee; die Schattenflotte umgeht Sanktionen gegen Russland."),
        ("Venezuela's shadow fleet", "Venezuela's shadow fleet of tankers ships oil to Asia; Venezuelan officials denied it. Russia was mentioned once."),
    ),
    "nord-stream-sabotage": (
        ("Nord Stream sabotage suspect arrested", "A Ukrainian suspect in the Nord Stream sabotage was arrested in Italy; the Nord Stream pipelines were blown up in 2022."),
        ("Підрив «Північних потоків»", "У справі про підрив «Північних потоків» затримано громадянина України. Вибухи на Nord Stream сталися у 2022 році."),
        ("Nord Stream 2 certification", "Germany halted the certification of Nord Stream 2; the Nord Stream project stays frozen for now."),
    ),
    "eu-accession": (
        ("EU opens accession talks with Ukraine", "The EU opened accession talks with Ukraine and Moldova; EU membership remains years away for Kyiv."),
        ("Вступ України до ЄС", "Україна розпочала переговори про вступ до ЄС, Зеленський привітав рішення."),
        ("Serbia's EU accession", "Serbia's EU accession stalls; Brussels criticised Belgrade over media freedom."),
    ),
    "nato-membership": (
        ("Finland joins NATO", "Finland joined NATO on Tuesday; Sweden's NATO accession followed. Russia warned of countermeasures."),
        ("Вступ до НАТО", "Зеленський закликав до вступу України до НАТО, членство в НАТО залишається метою Києва."),
        ("Nato-Gipfel beschließt Verteidigungsausgaben", "Die Nato einigte sich auf höhere Verteidigungsausgaben; Russland kritisierte das."),
    ),
    "tank-deliveries": (
        ("Germany approves Leopard tanks for Ukraine", "Berlin approved Leopard 2 tanks for Ukraine; the US will send Abrams tanks."),
        ("Kampfpanzer für die Ukraine", "Deutschland liefert Leopard-Panzer an die Ukraine, weitere Kampfpanzer sollen folgen."),
        ("Leopard spotted in Kenya", "A leopard was spotted near Nairobi; tourists in Kenya filmed the big cat. A Ukrainian tourist was among them."),
    ),
    "air-defence-systems": (
        ("Germany sends Patriot system to Ukraine", "Germany will send another Patriot system to Ukraine; IRIS-T launchers follow."),
        ("Системи Patriot для України", "Україна отримала нові системи Patriot, комплекси IRIS-T та NASAMS захищають Київ."),
        ("Patriots win the Super Bowl", "The New England Patriots won; fans in Russia watched too."),
    ),
    "strategic-bomber-strikes": (
        ("Operation Spiderweb", "Ukrainian drones hit Russian strategic bombers at Olenya and Belaya air bases; Tu-95 bombers were destroyed."),
        ("Операція «Павутина»", "СБУ провела операцію «Павутина»: дрони уразили стратегічні бомбардувальники Ту-95 і Ту-22М3 на аеродромах РФ."),
        ("B-52 bombers fly over Europe", "US B-52 bombers flew over Europe during a NATO exercise; Russia protested."),
    ),
    "nuclear-threats": (
        ("Russia deploys nuclear weapons to Belarus", "Russia moved tactical nuclear weapons to Belarus; Putin also changed Russia's nuclear doctrine."),
        ("Ядерні погрози Кремля", "Путін знову погрожує ядерною зброєю, Кремль змінив ядерну доктрину."),
        ("Iran's nuclear programme", "Iran expanded uranium enrichment, inspectors said; enriched uranium stockpiles grew. Russia offered to mediate."),
    ),
}

QUERIES: dict[str, tuple[str, str, str]] = {  # topic -> (en, de, fr) query
    "kakhovka-dam": ("Kakhovka dam", "Kachowka-Staudamm", "barrage de Kakhovka"),
    "grain-corridor": ("grain deal", "Getreideabkommen", "accord céréalier"),
    "black-sea-fleet-attacks": ("naval drones Black Sea Fleet", "Seedrohnen", "drones navals"),
    "crimean-bridge": ("Crimean bridge attack", "Krim-Brücke", "pont de Crimée"),
    "mobilisation": ("partial mobilisation", "Teilmobilmachung", "mobilisation partielle"),
    "war-crimes": ("war crimes", "Kriegsverbrechen", "crimes de guerre"),
    "icc-arrest-warrants": ("ICC arrest warrant Putin", "Haftbefehl Putin", "mandat d'arrêt Poutine"),
    "deportation-of-children": ("deported Ukrainian children", "verschleppte Kinder", "enfants déportés"),
    "wagner-mutiny": ("Wagner mutiny", "Wagner-Aufstand", "mutinerie de Wagner"),
    "prigozhin-death": ("Prigozhin plane crash", "Prigoschin Flugzeugabsturz", "Prigojine crash d'avion"),
    "fighter-jets": ("F-16 fighter jets", "F-16-Kampfjets", "avions de combat F-16"),
    "glide-bomb-attacks": ("glide bombs", "Gleitbomben", "bombes planantes"),
    "long-range-strikes-inside-russia": ("long-range strikes", "weitreichende Waffen", "frappes à longue portée"),
    "oreshnik-missile": ("Oreshnik missile", "Oreschnik-Rakete", "missile Orechnik"),
    "missile-strikes": ("missile attack on Kyiv", "Raketenangriff auf Kiew", "frappe de missiles sur Kyiv"),
    "annexation-referendums": ("sham referendums", "Scheinreferenden", "pseudo-référendums"),
    "minerals-deal": ("minerals deal", "Rohstoffabkommen", "accord sur les minerais"),
    "istanbul-talks": ("Istanbul talks", "Gespräche in Istanbul", "pourparlers d'Istanbul"),
    "saudi-talks": ("Jeddah talks", "Gespräche in Dschidda", "pourparlers de Djeddah"),
    "trump-putin-summit": ("Alaska summit", "Alaska-Gipfel", "sommet en Alaska"),
    "security-guarantees": ("coalition of the willing", "Sicherheitsgarantien", "garanties de sécurité"),
    "frozen-russian-assets": ("frozen Russian assets", "eingefrorene russische Vermögen", "avoirs russes gelés"),
    "shadow-fleet": ("shadow fleet", "Schattenflotte", "flotte fantôme"),
    "nord-stream-sabotage": ("Nord Stream sabotage", "Nord-Stream-Anschlag", "sabotage de Nord Stream"),
    "eu-accession": ("Ukraine EU membership", "EU-Beitritt der Ukraine", "adhésion à l'UE"),
    "nato-membership": ("Ukraine NATO membership", "NATO-Beitritt", "adhésion à l'OTAN"),
    "tank-deliveries": ("Leopard tanks", "Leopard-Panzer", "chars Leopard"),
    "air-defence-systems": ("Patriot systems", "Patriot-Systeme", "systèmes Patriot"),
    "strategic-bomber-strikes": ("Operation Spiderweb", "Operation Spinnennetz", "opération Toile d'araignée"),
    "nuclear-threats": ("nuclear weapons", "Atomwaffen", "armes nucléaires"),
}


def test_every_new_topic_has_cases_and_queries(topics: TopicSet) -> None:
    assert set(TOPIC_CASES) == set(QUERIES)
    assert set(TOPIC_CASES) <= set(topics.topics)


@pytest.mark.parametrize("topic", sorted(TOPIC_CASES))
def test_topic_tags_coverage_in_two_languages(topics: TopicSet, topic: str) -> None:
    first, second, _ = TOPIC_CASES[topic]
    assert topic in topics.tag(*first), first
    assert topic in topics.tag(*second), second


@pytest.mark.parametrize("topic", sorted(TOPIC_CASES))
def test_topic_skips_its_look_alike(topics: TopicSet, topic: str) -> None:
    look_alike = TOPIC_CASES[topic][2]
    assert topic not in topics.tag(*look_alike), look_alike


@pytest.mark.parametrize(("topic", "lang"), [(t, i) for t in sorted(QUERIES) for i in range(3)])
def test_queries_in_en_de_fr_recognise_the_topic(topic: str, lang: int) -> None:
    query = QUERIES[topic][lang]
    assert topic in expand_query(query).topics, query


def test_new_topics_have_literal_terms_in_every_core_language(topics: TopicSet) -> None:
    for tid in TOPIC_CASES:
        plain = topics.topics[tid].plain_terms()
        assert {"de", "en", "fr", "uk", "ru"} <= set(plain), (tid, sorted(plain))


def test_a_plain_war_report_gets_no_story_topic(topics: TopicSet) -> None:
    """Topics need specific terms: a routine front-line report names the war's places and actors
    but is about none of the stories above."""
    report = (
        "Russian troops advance near Pokrovsk",
        "Fighting continued near Pokrovsk and Kupiansk, Ukraine's General Staff said on Monday. "
        "Russian forces attacked Ukrainian positions 120 times; Zelensky thanked the soldiers. "
        "The Kremlin said the war would go on until its goals were met.",
    )
    assert not set(topics.tag(*report)) & set(TOPIC_CASES)
