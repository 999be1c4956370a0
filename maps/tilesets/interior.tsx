<?xml version="1.0" encoding="UTF-8"?>
<tileset version="1.10" tiledversion="1.10.2" name="interior" tilewidth="16" tileheight="16" tilecount="160" columns="16">
 <image source="../../assets/tiles/interior.png" width="256" height="160"/>
 <tile id="0" type="floor_wood">
  <properties>
   <property name="name" value="floor_wood"/>
  </properties>
 </tile>
 <tile id="1" type="floor_wood_dark">
  <properties>
   <property name="name" value="floor_wood_dark"/>
  </properties>
 </tile>
 <tile id="2" type="floor_tile">
  <properties>
   <property name="name" value="floor_tile"/>
  </properties>
 </tile>
 <tile id="3" type="floor_kitchen">
  <properties>
   <property name="name" value="floor_kitchen"/>
  </properties>
 </tile>
 <tile id="4" type="floor_carpet_red">
  <properties>
   <property name="name" value="floor_carpet_red"/>
  </properties>
 </tile>
 <tile id="5" type="floor_carpet_blue">
  <properties>
   <property name="name" value="floor_carpet_blue"/>
  </properties>
 </tile>
 <tile id="6" type="floor_carpet_green">
  <properties>
   <property name="name" value="floor_carpet_green"/>
  </properties>
 </tile>
 <tile id="7" type="floor_carpet_purple">
  <properties>
   <property name="name" value="floor_carpet_purple"/>
  </properties>
 </tile>
 <tile id="8" type="floor_stone">
  <properties>
   <property name="name" value="floor_stone"/>
  </properties>
 </tile>
 <tile id="9" type="floor_concrete">
  <properties>
   <property name="name" value="floor_concrete"/>
  </properties>
 </tile>
 <tile id="10" type="floor_cafe">
  <properties>
   <property name="name" value="floor_cafe"/>
  </properties>
 </tile>
 <tile id="11" type="floor_pub">
  <properties>
   <property name="name" value="floor_pub"/>
  </properties>
 </tile>
 <tile id="12" type="wall">
  <properties>
   <property name="name" value="wall"/>
  </properties>
 </tile>
 <tile id="13" type="wall_face">
  <properties>
   <property name="name" value="wall_face"/>
  </properties>
 </tile>
 <tile id="14" type="doorway">
  <properties>
   <property name="name" value="doorway"/>
  </properties>
 </tile>
 <tile id="15" type="garden_soil">
  <properties>
   <property name="name" value="garden_soil"/>
  </properties>
 </tile>
 <tile id="16" type="collision">
  <properties>
   <property name="name" value="collision"/>
  </properties>
 </tile>
 <tile id="17" type="spawn">
  <properties>
   <property name="name" value="spawn"/>
  </properties>
 </tile>
 <tile id="18" type="bed (0,0)">
  <properties>
   <property name="name" value="bed (0,0)"/>
  </properties>
 </tile>
 <tile id="19" type="bed (0,1)">
  <properties>
   <property name="name" value="bed (0,1)"/>
  </properties>
 </tile>
 <tile id="20" type="desk (0,0)">
  <properties>
   <property name="name" value="desk (0,0)"/>
  </properties>
 </tile>
 <tile id="21" type="desk (1,0)">
  <properties>
   <property name="name" value="desk (1,0)"/>
  </properties>
 </tile>
 <tile id="22" type="closet (0,0)">
  <properties>
   <property name="name" value="closet (0,0)"/>
  </properties>
 </tile>
 <tile id="23" type="shelf (0,0)">
  <properties>
   <property name="name" value="shelf (0,0)"/>
  </properties>
 </tile>
 <tile id="24" type="shelf (1,0)">
  <properties>
   <property name="name" value="shelf (1,0)"/>
  </properties>
 </tile>
 <tile id="25" type="easel (0,0)">
  <properties>
   <property name="name" value="easel (0,0)"/>
  </properties>
 </tile>
 <tile id="26" type="bathroom sink (0,0)">
  <properties>
   <property name="name" value="bathroom sink (0,0)"/>
  </properties>
 </tile>
 <tile id="27" type="shower (0,0)">
  <properties>
   <property name="name" value="shower (0,0)"/>
  </properties>
 </tile>
 <tile id="28" type="toilet (0,0)">
  <properties>
   <property name="name" value="toilet (0,0)"/>
  </properties>
 </tile>
 <tile id="29" type="kitchen sink (0,0)">
  <properties>
   <property name="name" value="kitchen sink (0,0)"/>
  </properties>
 </tile>
 <tile id="30" type="refrigerator (0,0)">
  <properties>
   <property name="name" value="refrigerator (0,0)"/>
  </properties>
 </tile>
 <tile id="31" type="toaster (0,0)">
  <properties>
   <property name="name" value="toaster (0,0)"/>
  </properties>
 </tile>
 <tile id="32" type="cooking area (0,0)">
  <properties>
   <property name="name" value="cooking area (0,0)"/>
  </properties>
 </tile>
 <tile id="33" type="cooking area (1,0)">
  <properties>
   <property name="name" value="cooking area (1,0)"/>
  </properties>
 </tile>
 <tile id="34" type="common room table (0,0)">
  <properties>
   <property name="name" value="common room table (0,0)"/>
  </properties>
 </tile>
 <tile id="35" type="common room table (1,0)">
  <properties>
   <property name="name" value="common room table (1,0)"/>
  </properties>
 </tile>
 <tile id="36" type="common room table (0,1)">
  <properties>
   <property name="name" value="common room table (0,1)"/>
  </properties>
 </tile>
 <tile id="37" type="common room table (1,1)">
  <properties>
   <property name="name" value="common room table (1,1)"/>
  </properties>
 </tile>
 <tile id="38" type="common room sofa (0,0)">
  <properties>
   <property name="name" value="common room sofa (0,0)"/>
  </properties>
 </tile>
 <tile id="39" type="common room sofa (1,0)">
  <properties>
   <property name="name" value="common room sofa (1,0)"/>
  </properties>
 </tile>
 <tile id="40" type="guitar (0,0)">
  <properties>
   <property name="name" value="guitar (0,0)"/>
  </properties>
 </tile>
 <tile id="41" type="microphone (0,0)">
  <properties>
   <property name="name" value="microphone (0,0)"/>
  </properties>
 </tile>
 <tile id="42" type="bar customer seating (0,0)">
  <properties>
   <property name="name" value="bar customer seating (0,0)"/>
  </properties>
 </tile>
 <tile id="43" type="bar customer seating (1,0)">
  <properties>
   <property name="name" value="bar customer seating (1,0)"/>
  </properties>
 </tile>
 <tile id="44" type="bar customer seating (2,0)">
  <properties>
   <property name="name" value="bar customer seating (2,0)"/>
  </properties>
 </tile>
 <tile id="45" type="behind the bar counter (0,0)">
  <properties>
   <property name="name" value="behind the bar counter (0,0)"/>
  </properties>
 </tile>
 <tile id="46" type="behind the bar counter (1,0)">
  <properties>
   <property name="name" value="behind the bar counter (1,0)"/>
  </properties>
 </tile>
 <tile id="47" type="behind the bar counter (2,0)">
  <properties>
   <property name="name" value="behind the bar counter (2,0)"/>
  </properties>
 </tile>
 <tile id="48" type="behind the cafe counter (0,0)">
  <properties>
   <property name="name" value="behind the cafe counter (0,0)"/>
  </properties>
 </tile>
 <tile id="49" type="behind the cafe counter (1,0)">
  <properties>
   <property name="name" value="behind the cafe counter (1,0)"/>
  </properties>
 </tile>
 <tile id="50" type="behind the cafe counter (2,0)">
  <properties>
   <property name="name" value="behind the cafe counter (2,0)"/>
  </properties>
 </tile>
 <tile id="51" type="cafe customer seating (0,0)">
  <properties>
   <property name="name" value="cafe customer seating (0,0)"/>
  </properties>
 </tile>
 <tile id="52" type="cafe customer seating (1,0)">
  <properties>
   <property name="name" value="cafe customer seating (1,0)"/>
  </properties>
 </tile>
 <tile id="53" type="cafe customer seating (2,0)">
  <properties>
   <property name="name" value="cafe customer seating (2,0)"/>
  </properties>
 </tile>
 <tile id="54" type="cafe customer seating (0,1)">
  <properties>
   <property name="name" value="cafe customer seating (0,1)"/>
  </properties>
 </tile>
 <tile id="55" type="cafe customer seating (1,1)">
  <properties>
   <property name="name" value="cafe customer seating (1,1)"/>
  </properties>
 </tile>
 <tile id="56" type="cafe customer seating (2,1)">
  <properties>
   <property name="name" value="cafe customer seating (2,1)"/>
  </properties>
 </tile>
 <tile id="57" type="piano (0,0)">
  <properties>
   <property name="name" value="piano (0,0)"/>
  </properties>
 </tile>
 <tile id="58" type="piano (1,0)">
  <properties>
   <property name="name" value="piano (1,0)"/>
  </properties>
 </tile>
 <tile id="59" type="blackboard (0,0)">
  <properties>
   <property name="name" value="blackboard (0,0)"/>
  </properties>
 </tile>
 <tile id="60" type="blackboard (1,0)">
  <properties>
   <property name="name" value="blackboard (1,0)"/>
  </properties>
 </tile>
 <tile id="61" type="blackboard (2,0)">
  <properties>
   <property name="name" value="blackboard (2,0)"/>
  </properties>
 </tile>
 <tile id="62" type="game console (0,0)">
  <properties>
   <property name="name" value="game console (0,0)"/>
  </properties>
 </tile>
 <tile id="63" type="computer desk (0,0)">
  <properties>
   <property name="name" value="computer desk (0,0)"/>
  </properties>
 </tile>
 <tile id="64" type="computer desk (1,0)">
  <properties>
   <property name="name" value="computer desk (1,0)"/>
  </properties>
 </tile>
 <tile id="65" type="computer (0,0)">
  <properties>
   <property name="name" value="computer (0,0)"/>
  </properties>
 </tile>
 <tile id="66" type="library sofa (0,0)">
  <properties>
   <property name="name" value="library sofa (0,0)"/>
  </properties>
 </tile>
 <tile id="67" type="library sofa (1,0)">
  <properties>
   <property name="name" value="library sofa (1,0)"/>
  </properties>
 </tile>
 <tile id="68" type="bookshelf (0,0)">
  <properties>
   <property name="name" value="bookshelf (0,0)"/>
  </properties>
 </tile>
 <tile id="69" type="bookshelf (1,0)">
  <properties>
   <property name="name" value="bookshelf (1,0)"/>
  </properties>
 </tile>
 <tile id="70" type="bookshelf (2,0)">
  <properties>
   <property name="name" value="bookshelf (2,0)"/>
  </properties>
 </tile>
 <tile id="71" type="library table (0,0)">
  <properties>
   <property name="name" value="library table (0,0)"/>
  </properties>
 </tile>
 <tile id="72" type="library table (1,0)">
  <properties>
   <property name="name" value="library table (1,0)"/>
  </properties>
 </tile>
 <tile id="73" type="library table (2,0)">
  <properties>
   <property name="name" value="library table (2,0)"/>
  </properties>
 </tile>
 <tile id="74" type="library table (0,1)">
  <properties>
   <property name="name" value="library table (0,1)"/>
  </properties>
 </tile>
 <tile id="75" type="library table (1,1)">
  <properties>
   <property name="name" value="library table (1,1)"/>
  </properties>
 </tile>
 <tile id="76" type="library table (2,1)">
  <properties>
   <property name="name" value="library table (2,1)"/>
  </properties>
 </tile>
 <tile id="77" type="classroom student seating (0,0)">
  <properties>
   <property name="name" value="classroom student seating (0,0)"/>
  </properties>
 </tile>
 <tile id="78" type="classroom student seating (1,0)">
  <properties>
   <property name="name" value="classroom student seating (1,0)"/>
  </properties>
 </tile>
 <tile id="79" type="classroom student seating (2,0)">
  <properties>
   <property name="name" value="classroom student seating (2,0)"/>
  </properties>
 </tile>
 <tile id="80" type="classroom student seating (3,0)">
  <properties>
   <property name="name" value="classroom student seating (3,0)"/>
  </properties>
 </tile>
 <tile id="81" type="classroom student seating (0,1)">
  <properties>
   <property name="name" value="classroom student seating (0,1)"/>
  </properties>
 </tile>
 <tile id="82" type="classroom student seating (1,1)">
  <properties>
   <property name="name" value="classroom student seating (1,1)"/>
  </properties>
 </tile>
 <tile id="83" type="classroom student seating (2,1)">
  <properties>
   <property name="name" value="classroom student seating (2,1)"/>
  </properties>
 </tile>
 <tile id="84" type="classroom student seating (3,1)">
  <properties>
   <property name="name" value="classroom student seating (3,1)"/>
  </properties>
 </tile>
 <tile id="85" type="classroom podium (0,0)">
  <properties>
   <property name="name" value="classroom podium (0,0)"/>
  </properties>
 </tile>
 <tile id="86" type="behind the pharmacy counter (0,0)">
  <properties>
   <property name="name" value="behind the pharmacy counter (0,0)"/>
  </properties>
 </tile>
 <tile id="87" type="behind the pharmacy counter (1,0)">
  <properties>
   <property name="name" value="behind the pharmacy counter (1,0)"/>
  </properties>
 </tile>
 <tile id="88" type="behind the pharmacy counter (2,0)">
  <properties>
   <property name="name" value="behind the pharmacy counter (2,0)"/>
  </properties>
 </tile>
 <tile id="89" type="behind the grocery counter (0,0)">
  <properties>
   <property name="name" value="behind the grocery counter (0,0)"/>
  </properties>
 </tile>
 <tile id="90" type="behind the grocery counter (1,0)">
  <properties>
   <property name="name" value="behind the grocery counter (1,0)"/>
  </properties>
 </tile>
 <tile id="91" type="behind the grocery counter (2,0)">
  <properties>
   <property name="name" value="behind the grocery counter (2,0)"/>
  </properties>
 </tile>
 <tile id="92" type="pharmacy store shelf (0,0)">
  <properties>
   <property name="name" value="pharmacy store shelf (0,0)"/>
  </properties>
 </tile>
 <tile id="93" type="pharmacy store shelf (1,0)">
  <properties>
   <property name="name" value="pharmacy store shelf (1,0)"/>
  </properties>
 </tile>
 <tile id="94" type="pharmacy store shelf (2,0)">
  <properties>
   <property name="name" value="pharmacy store shelf (2,0)"/>
  </properties>
 </tile>
 <tile id="95" type="grocery store shelf (0,0)">
  <properties>
   <property name="name" value="grocery store shelf (0,0)"/>
  </properties>
 </tile>
 <tile id="96" type="grocery store shelf (1,0)">
  <properties>
   <property name="name" value="grocery store shelf (1,0)"/>
  </properties>
 </tile>
 <tile id="97" type="grocery store shelf (2,0)">
  <properties>
   <property name="name" value="grocery store shelf (2,0)"/>
  </properties>
 </tile>
 <tile id="98" type="pharmacy store counter (0,0)">
  <properties>
   <property name="name" value="pharmacy store counter (0,0)"/>
  </properties>
 </tile>
 <tile id="99" type="pharmacy store counter (1,0)">
  <properties>
   <property name="name" value="pharmacy store counter (1,0)"/>
  </properties>
 </tile>
 <tile id="100" type="pharmacy store counter (2,0)">
  <properties>
   <property name="name" value="pharmacy store counter (2,0)"/>
  </properties>
 </tile>
 <tile id="101" type="grocery store counter (0,0)">
  <properties>
   <property name="name" value="grocery store counter (0,0)"/>
  </properties>
 </tile>
 <tile id="102" type="grocery store counter (1,0)">
  <properties>
   <property name="name" value="grocery store counter (1,0)"/>
  </properties>
 </tile>
 <tile id="103" type="grocery store counter (2,0)">
  <properties>
   <property name="name" value="grocery store counter (2,0)"/>
  </properties>
 </tile>
 <tile id="104" type="supply store product shelf (0,0)">
  <properties>
   <property name="name" value="supply store product shelf (0,0)"/>
  </properties>
 </tile>
 <tile id="105" type="supply store product shelf (1,0)">
  <properties>
   <property name="name" value="supply store product shelf (1,0)"/>
  </properties>
 </tile>
 <tile id="106" type="supply store product shelf (2,0)">
  <properties>
   <property name="name" value="supply store product shelf (2,0)"/>
  </properties>
 </tile>
 <tile id="107" type="behind the supply store counter (0,0)">
  <properties>
   <property name="name" value="behind the supply store counter (0,0)"/>
  </properties>
 </tile>
 <tile id="108" type="behind the supply store counter (1,0)">
  <properties>
   <property name="name" value="behind the supply store counter (1,0)"/>
  </properties>
 </tile>
 <tile id="109" type="behind the supply store counter (2,0)">
  <properties>
   <property name="name" value="behind the supply store counter (2,0)"/>
  </properties>
 </tile>
 <tile id="110" type="supply store counter (0,0)">
  <properties>
   <property name="name" value="supply store counter (0,0)"/>
  </properties>
 </tile>
 <tile id="111" type="supply store counter (1,0)">
  <properties>
   <property name="name" value="supply store counter (1,0)"/>
  </properties>
 </tile>
 <tile id="112" type="supply store counter (2,0)">
  <properties>
   <property name="name" value="supply store counter (2,0)"/>
  </properties>
 </tile>
 <tile id="113" type="dorm garden (0,0)">
  <properties>
   <property name="name" value="dorm garden (0,0)"/>
  </properties>
 </tile>
 <tile id="114" type="dorm garden (1,0)">
  <properties>
   <property name="name" value="dorm garden (1,0)"/>
  </properties>
 </tile>
 <tile id="115" type="dorm garden (2,0)">
  <properties>
   <property name="name" value="dorm garden (2,0)"/>
  </properties>
 </tile>
 <tile id="116" type="dorm garden (0,1)">
  <properties>
   <property name="name" value="dorm garden (0,1)"/>
  </properties>
 </tile>
 <tile id="117" type="dorm garden (1,1)">
  <properties>
   <property name="name" value="dorm garden (1,1)"/>
  </properties>
 </tile>
 <tile id="118" type="dorm garden (2,1)">
  <properties>
   <property name="name" value="dorm garden (2,1)"/>
  </properties>
 </tile>
 <tile id="119" type="dorm garden (0,2)">
  <properties>
   <property name="name" value="dorm garden (0,2)"/>
  </properties>
 </tile>
 <tile id="120" type="dorm garden (1,2)">
  <properties>
   <property name="name" value="dorm garden (1,2)"/>
  </properties>
 </tile>
 <tile id="121" type="dorm garden (2,2)">
  <properties>
   <property name="name" value="dorm garden (2,2)"/>
  </properties>
 </tile>
 <tile id="122" type="house garden (0,0)">
  <properties>
   <property name="name" value="house garden (0,0)"/>
  </properties>
 </tile>
 <tile id="123" type="house garden (1,0)">
  <properties>
   <property name="name" value="house garden (1,0)"/>
  </properties>
 </tile>
 <tile id="124" type="house garden (2,0)">
  <properties>
   <property name="name" value="house garden (2,0)"/>
  </properties>
 </tile>
 <tile id="125" type="house garden (0,1)">
  <properties>
   <property name="name" value="house garden (0,1)"/>
  </properties>
 </tile>
 <tile id="126" type="house garden (1,1)">
  <properties>
   <property name="name" value="house garden (1,1)"/>
  </properties>
 </tile>
 <tile id="127" type="house garden (2,1)">
  <properties>
   <property name="name" value="house garden (2,1)"/>
  </properties>
 </tile>
 <tile id="128" type="house garden (0,2)">
  <properties>
   <property name="name" value="house garden (0,2)"/>
  </properties>
 </tile>
 <tile id="129" type="house garden (1,2)">
  <properties>
   <property name="name" value="house garden (1,2)"/>
  </properties>
 </tile>
 <tile id="130" type="house garden (2,2)">
  <properties>
   <property name="name" value="house garden (2,2)"/>
  </properties>
 </tile>
 <tile id="131" type="garden chair (0,0)">
  <properties>
   <property name="name" value="garden chair (0,0)"/>
  </properties>
 </tile>
 <tile id="132" type="park garden (0,0)">
  <properties>
   <property name="name" value="park garden (0,0)"/>
  </properties>
 </tile>
 <tile id="133" type="park garden (1,0)">
  <properties>
   <property name="name" value="park garden (1,0)"/>
  </properties>
 </tile>
 <tile id="134" type="park garden (2,0)">
  <properties>
   <property name="name" value="park garden (2,0)"/>
  </properties>
 </tile>
 <tile id="135" type="park garden (3,0)">
  <properties>
   <property name="name" value="park garden (3,0)"/>
  </properties>
 </tile>
 <tile id="136" type="park garden (0,1)">
  <properties>
   <property name="name" value="park garden (0,1)"/>
  </properties>
 </tile>
 <tile id="137" type="park garden (1,1)">
  <properties>
   <property name="name" value="park garden (1,1)"/>
  </properties>
 </tile>
 <tile id="138" type="park garden (2,1)">
  <properties>
   <property name="name" value="park garden (2,1)"/>
  </properties>
 </tile>
 <tile id="139" type="park garden (3,1)">
  <properties>
   <property name="name" value="park garden (3,1)"/>
  </properties>
 </tile>
 <tile id="140" type="park garden (0,2)">
  <properties>
   <property name="name" value="park garden (0,2)"/>
  </properties>
 </tile>
 <tile id="141" type="park garden (1,2)">
  <properties>
   <property name="name" value="park garden (1,2)"/>
  </properties>
 </tile>
 <tile id="142" type="park garden (2,2)">
  <properties>
   <property name="name" value="park garden (2,2)"/>
  </properties>
 </tile>
 <tile id="143" type="park garden (3,2)">
  <properties>
   <property name="name" value="park garden (3,2)"/>
  </properties>
 </tile>
 <tile id="144" type="park garden (0,3)">
  <properties>
   <property name="name" value="park garden (0,3)"/>
  </properties>
 </tile>
 <tile id="145" type="park garden (1,3)">
  <properties>
   <property name="name" value="park garden (1,3)"/>
  </properties>
 </tile>
 <tile id="146" type="park garden (2,3)">
  <properties>
   <property name="name" value="park garden (2,3)"/>
  </properties>
 </tile>
 <tile id="147" type="park garden (3,3)">
  <properties>
   <property name="name" value="park garden (3,3)"/>
  </properties>
 </tile>
 <tile id="148" type="harp (0,0)">
  <properties>
   <property name="name" value="harp (0,0)"/>
  </properties>
 </tile>
 <tile id="149" type="lifting weight (0,0)">
  <properties>
   <property name="name" value="lifting weight (0,0)"/>
  </properties>
 </tile>
 <tile id="150" type="pool table (0,0)">
  <properties>
   <property name="name" value="pool table (0,0)"/>
  </properties>
 </tile>
 <tile id="151" type="pool table (1,0)">
  <properties>
   <property name="name" value="pool table (1,0)"/>
  </properties>
 </tile>
 <tile id="152" type="pool table (0,1)">
  <properties>
   <property name="name" value="pool table (0,1)"/>
  </properties>
 </tile>
 <tile id="153" type="pool table (1,1)">
  <properties>
   <property name="name" value="pool table (1,1)"/>
  </properties>
 </tile>
</tileset>
